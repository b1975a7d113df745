/// \file
/// The command line of tapegrad-train (CLI11): every option of TrainConfig, plus protocol presets
/// for the formal-language benchmark:
///   --protocol full     the papers' protocol: H = 256, 1,000,000 steps, batch 128, Adam lr 1e-3,
///                       clip 1, test lengths 41..500 with 8 x 64 sequences each
///   --protocol reduced  what fits a 2-core CPU (docs/RESULTS.md): H = 64, 2,000 steps, batch 32,
///                       test lengths 41..100 with 1 x 8 sequences each
/// An option given explicitly overrides the preset's value.
#pragma once
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "trainer.h"

namespace tapegrad::train {

/// Parses args (args[0] is the program name). Returns nullopt after printing --help to `out`;
/// a bad option or value is a tapegrad::Error naming it and what was expected.
std::optional<TrainConfig> parse_options(const std::vector<std::string>& args, std::ostream& out);

}  // namespace tapegrad::train
