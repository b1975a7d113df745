#include "task_model.h"

#include "../core/error.h"
#include "../models/pr_lstm.h"
#include "../models/recurrent.h"
#include "../ops/elementwise.h"
#include "../ops/reduce.h"
#include "../ops/shape_ops.h"

namespace tapegrad::train {

namespace {

const std::vector<std::pair<ModelKind, const char*>>& model_names() {
    static const std::vector<std::pair<ModelKind, const char*>> names = {
        {ModelKind::RNN, "rnn"},       {ModelKind::LSTM, "lstm"},     {ModelKind::GRU, "gru"},
        {ModelKind::BiLSTM, "bilstm"}, {ModelKind::QLLSTM, "qllstm"}, {ModelKind::PRLSTM, "prlstm"},
        {ModelKind::PRRNN, "prrnn"},   {ModelKind::Transformer, "transformer"},
    };
    return names;
}

bool is_pr(ModelKind kind) { return kind == ModelKind::PRLSTM || kind == ModelKind::PRRNN; }

}  // namespace

std::string model_name(ModelKind kind) {
    for (const auto& [k, name] : model_names())
        if (k == kind) return name;
    fail("model_name", "unknown model kind {}", int(kind));
}

ModelKind parse_model_kind(const std::string& name) {
    std::string valid;
    for (const auto& [kind, n] : model_names()) {
        if (name == n) return kind;
        valid += valid.empty() ? n : std::string(", ") + n;
    }
    fail("parse_model_kind", "unknown model '{}' (expected one of: {})", name, valid);
}

TaskModel::TaskModel(const ModelConfig& config, int64_t input_size, int64_t outputs, bool text, Generator& gen)
    : config(config) {
    if (config.hidden < 1 || config.embed < 1 || config.layers < 1)
        fail("TaskModel", "sizes must be positive, got hidden {} embed {} layers {}", config.hidden, config.embed,
             config.layers);
    if (text) {
        embedding_ = std::make_unique<Embedding>(input_size, config.embed, gen, /*padding_idx=*/0);
        register_module("embedding", embedding_.get());
    }
    const int64_t d = text ? config.embed : input_size;  // what the encoder reads per position
    const int64_t h = config.hidden;
    int64_t features = h;
    switch (config.kind) {
        case ModelKind::RNN:
        case ModelKind::LSTM:
        case ModelKind::GRU: {
            const CellType type = config.kind == ModelKind::RNN    ? CellType::RNN
                                  : config.kind == ModelKind::LSTM ? CellType::LSTM
                                                                   : CellType::GRU;
            encoder_ = std::make_unique<Recurrent>(type, d, h, config.layers, gen, config.forget_bias);
            break;
        }
        case ModelKind::BiLSTM:
            encoder_ = std::make_unique<BiLstm>(d, h, config.layers, gen, config.forget_bias);
            features = 2 * h;
            break;
        case ModelKind::QLLSTM: encoder_ = std::make_unique<QlLstm>(d, h, gen, config.ql); break;
        case ModelKind::PRLSTM:
        case ModelKind::PRRNN:
            encoder_ = std::make_unique<PrLstm>(d, h, outputs, gen, config.refinements,
                                                config.kind == ModelKind::PRLSTM ? PrCell::LSTM : PrCell::RNN);
            break;
        case ModelKind::Transformer:
            encoder_ = std::make_unique<TransformerEncoder>(0, d, config.transformer, gen);
            features = config.transformer.d_model;
            break;
    }
    register_module("encoder", encoder_.get());
    if (!is_pr(config.kind)) {
        readout_ = std::make_unique<Linear>(features, outputs, gen);
        register_module("readout", readout_.get());
    }
}

std::unique_ptr<TaskModel> TaskModel::for_formal_task(const ModelConfig& config, int64_t input_size, int64_t outputs,
                                                      Generator& gen) {
    return std::unique_ptr<TaskModel>(new TaskModel(config, input_size, outputs, false, gen));
}

std::unique_ptr<TaskModel> TaskModel::for_text(const ModelConfig& config, int64_t vocab, int64_t outputs,
                                               Generator& gen) {
    return std::unique_ptr<TaskModel>(new TaskModel(config, vocab, outputs, true, gen));
}

int64_t TaskModel::encoder_parameters() const {
    // PR models hold their readout inside the encoder module; count only the recurrent part.
    if (is_pr(config.kind)) {
        const auto& pr = static_cast<const PrLstm&>(*encoder_);
        return pr.num_parameters() - pr.readout.num_parameters();
    }
    return encoder_->num_parameters();
}

Tensor TaskModel::hidden_states(const Tensor& x, const std::vector<int64_t>& lengths) {
    switch (config.kind) {
        case ModelKind::RNN:
        case ModelKind::LSTM:
        case ModelKind::GRU: return static_cast<const Recurrent&>(*encoder_).forward(x, lengths).output;
        case ModelKind::BiLSTM: return static_cast<const BiLstm&>(*encoder_).forward(x, lengths).output;
        case ModelKind::QLLSTM: return static_cast<const QlLstm&>(*encoder_).forward(x, lengths).output;
        case ModelKind::Transformer: return static_cast<TransformerEncoder&>(*encoder_).forward(x, lengths);
        case ModelKind::PRLSTM:
        case ModelKind::PRRNN: break;
    }
    fail("TaskModel", "hidden_states is not used for {}", model_name(config.kind));
}

Tensor TaskModel::per_position(const Tensor& x) {
    if (is_pr(config.kind)) return static_cast<const PrLstm&>(*encoder_).forward(x);
    return readout_->forward(relu(hidden_states(x, {})));
}

Tensor TaskModel::sequence_features(const Tensor& x, const std::vector<int64_t>& lengths) {
    const int64_t batch = x.shape()[0], steps = x.shape()[1];
    switch (config.kind) {
        case ModelKind::RNN:
        case ModelKind::LSTM:
        case ModelKind::GRU: return static_cast<const Recurrent&>(*encoder_).forward(x, lengths).last.back().h;
        case ModelKind::QLLSTM: return static_cast<const QlLstm&>(*encoder_).forward(x, lengths).last.back().h;
        case ModelKind::BiLSTM: {
            RecurrentOutput r = static_cast<const BiLstm&>(*encoder_).forward(x, lengths);
            const size_t layers = size_t(config.layers);
            return concat({r.last[layers - 1].h, r.last[2 * layers - 1].h}, 1);
        }
        case ModelKind::Transformer: {
            // mean over real positions: Σ_t m_t h_t / length
            const Tensor h = static_cast<TransformerEncoder&>(*encoder_).forward(x, lengths);
            std::vector<float> mask(size_t(batch * steps), 0.0f);
            std::vector<double> inverse_length(static_cast<size_t>(batch));
            for (int64_t b = 0; b < batch; ++b) {
                for (int64_t t = 0; t < lengths[size_t(b)]; ++t) mask[size_t(b * steps + t)] = 1.0f;
                inverse_length[size_t(b)] = 1.0 / double(lengths[size_t(b)]);
            }
            const Tensor m = tapegrad::to(tapegrad::to(Tensor::from_vector(mask, {batch, steps, 1}), h.device()), h.dtype());
            return mul(sum(mul(h, m), 1), column_mask(inverse_length, h));
        }
        case ModelKind::PRLSTM:
        case ModelKind::PRRNN: break;
    }
    fail("TaskModel", "sequence_features is not used for {}", model_name(config.kind));
}

Tensor TaskModel::classify(const Tensor& ids, const std::vector<int64_t>& lengths) {
    if (!embedding_) fail("TaskModel::classify", "this model was built for a formal task, not for text");
    const Tensor x = embedding_->forward(ids);  // [B, T, E]
    if (is_pr(config.kind)) {
        // The readout at each review's last real token: its prefix state covers the whole review.
        const int64_t batch = x.shape()[0], steps = x.shape()[1];
        const Tensor logits = static_cast<const PrLstm&>(*encoder_).forward(x);  // [B, T, O]
        std::vector<int64_t> rows(static_cast<size_t>(batch));
        for (int64_t b = 0; b < batch; ++b) rows[size_t(b)] = b * steps + lengths[size_t(b)] - 1;
        return index_select(reshape(logits, {batch * steps, logits.shape()[2]}), 0,
                            Tensor::from_vector(rows, {batch}, x.device()));
    }
    return readout_->forward(sequence_features(x, lengths));
}

}  // namespace tapegrad::train
