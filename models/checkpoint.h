/// \file
/// Checkpoints in the safetensors format (https://huggingface.co/docs/safetensors), readable by
/// Python's `safetensors` package (scripts/check_safetensors.py):
///
///   [8 bytes: header length N, little-endian u64][N bytes: JSON header][raw little-endian data]
///   header: {"<name>": {"dtype": "F32", "shape": [3, 4], "data_offsets": [begin, end]}, ...,
///            "__metadata__": {"format": "tapegrad"}}
///
/// Model parameters are stored under their named_parameters() names ("encoder.lstm.weight"),
/// optimizer state under "optimizer.<name>" plus "optimizer.step". The state is named by each
/// parameter's index over all the optimizer's groups ("optimizer.exp_avg.3"), so a file of a
/// one-group optimizer loads into one with several groups over the same parameters; the groups'
/// options (lr, weight_decay) are not stored: the program makes the optimizer with its groups
/// again, and a scheduler with last_epoch = the step - 1 sets their lrs. Files are written atomically:
/// a temporary file in the same directory, fsync, then rename over the target.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "module.h"
#include "optim.h"

namespace tapegrad {

/// Writes `tensors` under their names, and `metadata` in "__metadata__", to a safetensors file at `path`, atomically.
void save_tensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata = {});
/// All tensors of a file, on the CPU. Throws naming the file on anything the format does not allow:
/// a header length past the end of the file or over 100 MB, a header that is not one JSON object
/// (padded with spaces only), a key twice in one object, an entry other than {dtype, shape,
/// data_offsets}, a dtype other than F32/F64/I64, an extent that is not an integer in [0, 2^63),
/// offsets that disagree with shape and dtype or do not tile the data exactly (overlap, hole,
/// trailing bytes), a "__metadata__" that is not an object of strings, an unreadable path.
std::map<std::string, Tensor> load_tensors(const std::string& path);

/// `metadata` lands in the header's "__metadata__" beside {"format": "tapegrad"} (e.g. a training
/// run's step and random-stream offsets, read back with load_metadata).
void save_checkpoint(const std::string& path, const Module& model, Optimizer* optimizer = nullptr,
                     const std::map<std::string, std::string>& metadata = {});
/// The "__metadata__" strings of a safetensors file (checked whole, as load_tensors does).
std::map<std::string, std::string> load_metadata(const std::string& path);
/// Copies the file's values into the model's parameters (and the optimizer's state) in place,
/// through load_into_slots (module.h, as Module::load_state_dict with strict = true). Throws naming
/// the file and the parameter on a missing or unexpected tensor or a shape/dtype mismatch, or an "optimizer.step" that is not one int64 in [0, 2^53]; nothing is modified unless
/// the whole file checks out.
void load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer = nullptr);

}  // namespace tapegrad
