#include "param_table.h"

#include <fmt/format.h>

#include <functional>
#include <vector>

#include "../models/ql_lstm.h"
#include "../models/recurrent.h"

namespace tapegrad {

std::string recurrent_parameter_table(int64_t input_size, int64_t hidden_size) {
    const int64_t D = input_size, H = hidden_size;
    Generator gen(0);
    struct Row {
        std::string name, formula;
        std::function<int64_t()> count;  // builds the layer and counts its parameters
    };
    auto ql = [&](bool psug, bool scales, bool hgr, bool recurrence, bool gated) {
        QlLstmOptions o;
        o.psug = psug;
        o.gate_scales = scales;
        o.hgr = hgr;
        o.block_recurrence = recurrence;
        o.gated_skip = gated;
        return [&gen, D, H, o] { return QlLstm(D, H, gen, o).num_parameters(); };
    };
    const std::vector<Row> rows{
        {"RNN (tanh)", "H(D+H) + 2H", [&] { return Recurrent(CellType::RNN, D, H, 1, gen).num_parameters(); }},
        {"LSTM", "4H(D+H) + 8H", [&] { return Recurrent(CellType::LSTM, D, H, 1, gen).num_parameters(); }},
        {"GRU", "3H(D+H) + 6H", [&] { return Recurrent(CellType::GRU, D, H, 1, gen).num_parameters(); }},
        {"BiLSTM", "2 (4H(D+H) + 8H)", [&] { return BiLstm(D, H, 1, gen).num_parameters(); }},
        {"QL-LSTM PSUG only", "H(D+H) + 8H", ql(true, true, false, true, false)},
        {"QL-LSTM PSUG only, no gate scales", "H(D+H) + 4H", ql(true, false, false, true, false)},
        {"QL-LSTM HGR-ASC on plain LSTM", "4H(D+H) + 8H + 2H^2 + H", ql(false, true, true, true, false)},
        {"QL-LSTM PSUG + HGR-ASC (default)", "H(D+H) + 8H + 2H^2 + H", ql(true, true, true, true, false)},
        {"QL-LSTM PSUG + HGR-ASC, no V_s", "H(D+H) + 8H + H^2 + H", ql(true, true, true, false, false)},
        {"QL-LSTM PSUG + HGR-ASC, gated skip", "H(D+H) + 8H + 3H^2 + 2H", ql(true, true, true, true, true)},
    };
    const int64_t lstm = Recurrent(CellType::LSTM, D, H, 1, gen).num_parameters();
    std::string out = fmt::format("Recurrent layer parameters at D = {}, H = {} (one layer; embedding and classifier "
                                  "not counted; reduction relative to the LSTM):\n",
                                  D, H);
    out += fmt::format("  {:<38} {:<26} {:>10} {:>11}\n", "layer", "formula", "parameters", "vs LSTM");
    for (const Row& row : rows) {
        const int64_t n = row.count();
        out += fmt::format("  {:<38} {:<26} {:>10} {:>+10.1f}%\n", row.name, row.formula, n,
                           100.0 * double(n - lstm) / double(lstm));
    }
    return out;
}

}  // namespace tapegrad
