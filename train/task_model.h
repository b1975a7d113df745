/// \file
/// The models the training driver builds, each wrapped with what its task needs around it:
///
///   formal tasks:  x one-hot [B, T, V+1] -> encoder -> h [B, T, H] -> logits_t = W relu(h_t) + b
///                  (logits at every position; the task reads the last L_out of them)
///   IMDB:          ids [B, T] -> Embedding(vocab, E) -> encoder -> features [B, F] -> Linear(F, 2)
///                  features: the final state h at each review's last real token (RNN, LSTM, GRU,
///                  QL-LSTM), [h_forward; h_backward] for BiLSTM, the mean over real positions for
///                  the Transformer; PR-LSTM/PR-RNN use their own readout at position length-1.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/random.h"
#include "../models/layers.h"
#include "../models/ql_lstm.h"
#include "../models/transformer.h"

namespace tapegrad::train {

/// The sequence models tapegrad-train can train.
enum class ModelKind { RNN, LSTM, GRU, BiLSTM, QLLSTM, PRLSTM, PRRNN, Transformer };

/// "rnn", "lstm", "gru", "bilstm", "qllstm", "prlstm", "prrnn", "transformer".
std::string model_name(ModelKind kind);
/// The inverse of model_name; an unknown name is an Error listing the valid ones.
ModelKind parse_model_kind(const std::string& name);

/// Which model to build, and its sizes.
struct ModelConfig {
    ModelKind kind = ModelKind::LSTM;  ///< which model
    int64_t hidden = 64;  ///< H of the recurrent models
    int64_t embed = 64;   ///< E, IMDB only
    int64_t layers = 1;   ///< stacked layers of RNN/LSTM/GRU/BiLSTM
    double forget_bias = 0.0;          ///< LSTM/BiLSTM initial forget-gate bias
    QlLstmOptions ql;                  ///< QL-LSTM switches and K
    int64_t refinements = 1;           ///< PR-LSTM/PR-RNN: R
    TransformerOptions transformer;    ///< d_model, heads, layers, dropout
};

/// A sequence model with its task's input and readout around it (see the file's description).
class TaskModel : public Module {
public:
    /// Formal task: input_size = V + 1, outputs = O. IMDB: vocab = vocabulary size, outputs = 2.
    static std::unique_ptr<TaskModel> for_formal_task(const ModelConfig& config, int64_t input_size, int64_t outputs,
                                                      Generator& gen);
    /// IMDB: ids -> Embedding(vocab, E) -> encoder -> Linear(F, outputs).
    static std::unique_ptr<TaskModel> for_text(const ModelConfig& config, int64_t vocab, int64_t outputs,
                                               Generator& gen);

    /// Formal tasks: x [B, T, V+1] -> logits [B, T, O].
    Tensor per_position(const Tensor& x);
    /// IMDB: ids [B, T] Int64 (on the model's device), lengths -> logits [B, outputs].
    Tensor classify(const Tensor& ids, const std::vector<int64_t>& lengths);

    /// Parameters of the sequence encoder alone (no embedding, no readout).
    int64_t encoder_parameters() const;

    const ModelConfig config;  ///< the configuration it was built from

private:
    TaskModel(const ModelConfig& config, int64_t input_size, int64_t outputs, bool text, Generator& gen);
    /// The encoder's hidden states [B, T, F] (zero at padded steps for the recurrent ones).
    Tensor hidden_states(const Tensor& x, const std::vector<int64_t>& lengths);
    /// The features [B, F] of each sequence for classification.
    Tensor sequence_features(const Tensor& x, const std::vector<int64_t>& lengths);

    std::unique_ptr<Embedding> embedding_;  ///< IMDB only
    std::unique_ptr<Module> encoder_;
    std::unique_ptr<Linear> readout_;       ///< absent for PR-LSTM/PR-RNN (they have their own)
};

}  // namespace tapegrad::train
