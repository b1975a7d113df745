// Misuse, as a hostile or careless user would try it: each case is one wrong call of the public
// API, and its test asserts a tapegrad::Error whose message names the op or module and the
// offending shapes or values. One Boost.Test case per misuse, in suites by area (core, ops,
// models, optimizers, checkpoints, trainer options), so the counts are Boost's own.
#define BOOST_TEST_MODULE misuse
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "models/checkpoint.h"
#include "models/containers.h"
#include "models/metrics.h"
#include "models/pr_lstm.h"
#include "models/ql_lstm.h"
#include "models/recurrent.h"
#include "models/transformer.h"
#include "tests/test_helpers.h"
#include "train/train_options.h"

using namespace tapegrad;
namespace fs = std::filesystem;

namespace {

struct Misuse {
    std::string name;               // the test case's name: what is misused, and how
    std::function<void()> call;     // the wrong call
    std::vector<std::string> says;  // fragments the error must contain: the op, shapes, values
};

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

Tensor zeros(const Shape& shape) { return Tensor::zeros(shape); }
Tensor ids(const std::vector<int64_t>& values) { return Tensor::from_vector(values, {int64_t(values.size())}); }
Tensor leaf(const Shape& shape) { return Tensor::zeros(shape).set_requires_grad(); }

std::vector<Misuse> core_cases() {
    return {
        {"zeros_with_a_negative_extent", [] { Tensor::zeros({2, -3}); }, {"negative extent", "[2, -3]"}},
        {"zeros_with_an_overflowing_shape", [] { Tensor::zeros({1LL << 32, 1LL << 32}); }, {"[4294967296, 4294967296]", "2^63 bytes"}},
        {"empty_past_the_byte_range", [] { Tensor::empty({1LL << 62, 4}); }, {"[4611686018427387904, 4]"}},
        {"from_vector_with_too_few_values", [] { Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}); }, {"from_vector", "3 values", "[2, 2]"}},
        {"from_vector_with_too_many_values", [] { Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5}, {2, 2}); }, {"from_vector", "5 values", "[2, 2]"}},
        {"from_blob_of_nullptr", [] { Tensor::from_blob(nullptr, {2, 3}, DType::Float32); }, {"from_blob", "null"}},
        {"uniform_with_low_above_high", [] { Generator g(1); Tensor::uniform({3}, 2.0, 1.0, g); }, {"uniform", "low = 2", "high = 1"}},
        {"uniform_with_nan_bounds", [] { Generator g(1); Tensor::uniform({3}, kNaN, 1.0, g); }, {"uniform", "nan"}},
        {"data_as_the_wrong_dtype", [] { zeros({2}).data<double>(); }, {"data", "float32"}},
        {"to_vector_as_the_wrong_dtype", [] { zeros({2}).to_vector<int64_t>(); }, {"to_vector", "int64"}},
        {"item_of_a_tensor_of_two", [] { zeros({2}).item(); }, {"item", "[2]"}},
        {"requires_grad_on_int64", [] { Tensor::zeros({2}, DType::Int64).set_requires_grad(); }, {"set_requires_grad", "int64"}},
        {"size_of_a_missing_dim", [] { zeros({2, 3}).size(2); }, {"size", "axis 2", "2 dims"}},
        {"shape_of_an_undefined_tensor", [] { Tensor().shape(); }, {"undefined"}},
        {"cuda_tensor_without_a_device", [] { Tensor::zeros({2}, DType::Float32, Device::cuda(7)); }, {"cuda"}},
    };
}

std::vector<Misuse> ops_cases() {
    return {
        {"add_of_unbroadcastable_shapes", [] { zeros({2, 3}) + zeros({4}); }, {"add", "[2, 3]", "[4]"}},
        {"mul_of_unbroadcastable_shapes", [] { zeros({2, 3}) * zeros({3, 2}); }, {"mul", "[2, 3]", "[3, 2]"}},
        {"sub_of_mixed_dtypes", [] { zeros({2}) - Tensor::zeros({2}, DType::Float64); }, {"sub", "float32", "float64"}},
        {"div_of_int64", [] { Tensor::zeros({2}, DType::Int64) / Tensor::zeros({2}, DType::Int64); }, {"div", "int64"}},
        {"exp_of_int64", [] { exp(Tensor::zeros({2}, DType::Int64)); }, {"exp", "int64"}},
        {"add_of_an_undefined_tensor", [] { Tensor() + zeros({2}); }, {"add", "input 0", "undefined"}},
        {"sigmoid_of_an_undefined_tensor", [] { sigmoid(Tensor()); }, {"sigmoid", "undefined"}},
        {"addcmul_of_unbroadcastable_shapes", [] { addcmul(zeros({2, 3}), zeros({2, 3}), zeros({5})); }, {"addcmul", "[5]"}},
        {"matmul_with_differing_inner_dims", [] { matmul(zeros({32, 128}), zeros({256, 512})); }, {"matmul", "[32, 128]", "[256, 512]"}},
        {"matmul_of_a_vector", [] { matmul(zeros({3}), zeros({3, 4})); }, {"matmul", "at least 2 dims"}},
        {"matmul_with_differing_batches", [] { matmul(zeros({2, 3, 4}), zeros({3, 4, 5})); }, {"matmul", "batch"}},
        {"matmul_of_mixed_dtypes", [] { matmul(zeros({2, 2}), Tensor::zeros({2, 2}, DType::Float64)); }, {"matmul", "dtypes"}},
        {"linear_with_wrong_in_features", [] { linear(zeros({2, 3}), zeros({4, 5}), Tensor()); }, {"linear", "[2, 3]", "[4, 5]"}},
        {"linear_with_a_wrong_bias", [] { linear(zeros({2, 5}), zeros({4, 5}), zeros({5})); }, {"linear", "bias", "[5]"}},
        {"linear_with_a_3d_weight", [] { linear(zeros({2, 5}), zeros({1, 4, 5}), Tensor()); }, {"linear", "[1, 4, 5]"}},
        {"sum_over_a_missing_axis", [] { sum(zeros({2, 3}), 2); }, {"sum", "axis 2", "2 dims"}},
        {"mean_over_a_missing_axis", [] { mean(zeros({2, 3}), -3); }, {"mean", "axis -3"}},
        {"max_over_an_empty_axis", [] { max(zeros({2, 0}), 1); }, {"max", "empty", "[2, 0]"}},
        {"max_of_an_empty_tensor", [] { max(zeros({0})); }, {"max", "empty", "[0]"}},
        {"norm_with_p_3", [] { norm(zeros({2, 3}), 3); }, {"norm", "p = 3", "expected 1, 2 or inf"}},
        {"norm_over_a_missing_axis", [] { norm(zeros({2, 3}), 2, 2); }, {"norm", "axis 2", "2 dims"}},
        {"norm_of_int64", [] { norm(Tensor::zeros({2}, DType::Int64)); }, {"norm", "int64"}},
        {"inf_norm_of_no_elements", [] { norm(zeros({2, 0}), kInf); }, {"norm", "inf-norm", "[2, 0]"}},
        {"argmax_over_an_empty_axis", [] { argmax(zeros({2, 0}), 1); }, {"argmax", "empty", "[2, 0]"}},
        {"argmax_over_a_missing_axis", [] { argmax(zeros({2, 3}), 5); }, {"argmax", "axis 5"}},
        {"softmax_over_a_missing_axis", [] { softmax(zeros({2, 3}), 2); }, {"softmax", "axis 2"}},
        {"log_softmax_of_int64", [] { log_softmax(Tensor::zeros({2, 3}, DType::Int64)); }, {"log_softmax", "int64"}},
        {"reshape_to_a_wrong_count", [] { reshape(zeros({2, 3}), {4, 2}); }, {"reshape", "[4, 2]", "6 elements"}},
        {"reshape_to_negative_extents", [] { reshape(zeros({2, 3}), {-2, -3}); }, {"reshape", "[-2, -3]", "negative"}},
        {"reshape_with_two_inferred_dims", [] { reshape(zeros({2, 3}), {-1, -1}); }, {"reshape", "more than one -1"}},
        {"reshape_to_an_overflowing_shape", [] { reshape(zeros({2}), {1LL << 40, 1LL << 40}); }, {"reshape", "64 bits"}},
        {"squeeze_of_a_dim_that_is_not_1", [] { squeeze(zeros({2, 3}), 0); }, {"squeeze", "extent 2"}},
        {"unsqueeze_at_a_missing_axis", [] { unsqueeze(zeros({2, 3}), 4); }, {"unsqueeze", "axis 4"}},
        {"permute_that_repeats_an_axis", [] { permute(zeros({2, 3}), {0, 0}); }, {"permute", "permutation"}},
        {"permute_of_the_wrong_length", [] { permute(zeros({2, 3}), {0, 1, 2}); }, {"permute", "[0, 1, 2]", "[2, 3]"}},
        {"transpose_of_a_missing_axis", [] { transpose(zeros({2, 3}), 0, 2); }, {"transpose", "axis 2"}},
        {"slice_past_the_end", [] { slice(zeros({5}), 0, 3, 7); }, {"slice", "[3, 7)", "[5]"}},
        {"slice_with_start_after_end", [] { slice(zeros({5}), 0, 3, 1); }, {"slice", "[3, 1)"}},
        {"select_past_the_end", [] { select(zeros({2, 3}), 1, 3); }, {"select", "index 3", "[2, 3]"}},
        {"select_before_the_start", [] { select(zeros({2, 3}), 0, -3); }, {"select", "index -3", "-2 <= index < 2"}},
        {"concat_of_nothing", [] { concat({}, 0); }, {"concat", "at least one"}},
        {"concat_of_differing_shapes", [] { concat({zeros({2, 3}), zeros({3, 3})}, 1); }, {"concat", "[3, 3]", "[2, 3]"}},
        {"concat_of_differing_ranks", [] { concat({zeros({2, 3}), zeros({2})}, 1); }, {"concat", "[2]", "[2, 3]"}},
        {"concat_of_mixed_dtypes", [] { concat({zeros({2}), Tensor::zeros({2}, DType::Float64)}, 0); }, {"concat", "dtypes"}},
        {"stack_of_nothing", [] { stack({}, 0); }, {"stack", "at least one"}},
        {"stack_of_differing_shapes", [] { stack({zeros({2}), zeros({3})}, 0); }, {"stack", "[3]", "[2]"}},
        {"split_sizes_that_do_not_sum", [] { split(zeros({5}), {2, 2}, 0); }, {"split", "sum to 4", "extent 5"}},
        {"chunk_into_unequal_pieces", [] { chunk(zeros({5}), 2, 0); }, {"chunk", "2 equal pieces"}},
        {"chunk_into_zero_pieces", [] { chunk(zeros({4}), 0, 0); }, {"chunk", "0 equal pieces"}},
        {"index_select_out_of_range", [] { index_select(zeros({5, 3}), 0, ids({1, 5})); }, {"index_select", "index 5", "< 5"}},
        {"index_select_with_a_negative_index", [] { index_select(zeros({5, 3}), 0, ids({-1})); }, {"index_select", "index -1"}},
        {"index_select_with_float_indices", [] { index_select(zeros({5, 3}), 0, zeros({2})); }, {"index_select", "int64"}},
        {"index_select_with_2d_indices", [] { index_select(zeros({5, 3}), 0, Tensor::zeros({2, 2}, DType::Int64)); }, {"index_select", "1-D"}},
        {"gather_with_the_wrong_index_shape", [] { gather(zeros({3, 4}), 1, ids({0, 1})); }, {"gather", "[2]", "[3, 4]"}},
        {"gather_out_of_range", [] { gather(zeros({3, 4}), 1, ids({0, 1, 4})); }, {"gather", "index 4"}},
        {"to_an_int64_dtype", [] { to(zeros({2}), DType::Int64); }, {"to_dtype", "int64"}},
        {"cross_entropy_with_mismatched_targets", [] { cross_entropy(zeros({4, 3}), ids({0, 1})); }, {"cross_entropy", "[4, 3]", "[2]"}},
        {"cross_entropy_with_a_class_out_of_range", [] { cross_entropy(zeros({2, 3}), ids({0, 3})); }, {"cross_entropy", "index 3"}},
        {"bce_with_logits_of_unbroadcastable_shapes", [] { bce_with_logits(zeros({2, 3}), zeros({4})); }, {"[2, 3]", "[4]"}},
        {"dropout_with_p_above_1", [] { Generator g(1); dropout(zeros({2, 3}), 1.5, g); }, {"dropout", "p = 1.5"}},
        {"dropout_with_a_negative_p", [] { Generator g(1); dropout(zeros({2, 3}), -0.1, g); }, {"dropout", "p = -0.1"}},
        {"accuracy_with_a_target_out_of_range", [] { accuracy(zeros({2, 3}), ids({0, 7})); }, {"accuracy", "target 7", "[2, 3]"}},
        {"accuracy_with_mismatched_rows", [] { accuracy(zeros({2, 3}), ids({0})); }, {"accuracy", "[2, 3]", "[1]"}},
        {"backward_of_a_non_scalar_without_a_seed", [] { backward(leaf({2}) * 2.0); }, {"backward", "[2]"}},
        {"backward_with_a_seed_of_the_wrong_shape", [] { backward(leaf({2}) * 2.0, {{zeros({3})}}); }, {"backward", "[3]", "[2]"}},
    };
}

std::vector<Misuse> models_cases() {
    return {
        {"linear_layer_with_negative_inputs", [] { Generator g(1); Linear(-3, 4, g); }, {"Linear", "in_features = -3"}},
        {"linear_layer_with_negative_outputs", [] { Generator g(1); Linear(3, -4, g); }, {"Linear", "out_features = -4"}},
        {"linear_layer_on_the_wrong_width", [] { Generator g(1); Linear(3, 4, g).forward(zeros({2, 5})); }, {"linear", "[2, 5]", "[4, 3]"}},
        {"embedding_with_a_negative_count", [] { Generator g(1); Embedding(-3, 4, g); }, {"Embedding", "num_embeddings = -3"}},
        {"embedding_with_a_negative_width", [] { Generator g(1); Embedding(3, -1, g); }, {"Embedding", "dim = -1"}},
        {"embedding_with_padding_out_of_range", [] { Generator g(1); Embedding(3, 4, g, 3); }, {"Embedding", "padding_idx 3"}},
        {"embedding_with_padding_below_minus_1", [] { Generator g(1); Embedding(3, 4, g, -2); }, {"Embedding", "padding_idx -2"}},
        {"embedding_of_an_id_out_of_range", [] { Generator g(1); Embedding(3, 4, g).forward(ids({0, 3})); }, {"index_select", "index 3"}},
        {"layer_norm_with_a_negative_width", [] { LayerNorm(-2); }, {"LayerNorm", "dim = -2"}},
        {"layer_norm_with_a_negative_eps", [] { LayerNorm(4, -1e-5); }, {"LayerNorm", "eps = -1e-05"}},
        {"layer_norm_on_the_wrong_width", [] { LayerNorm(4).forward(zeros({2, 3})); }, {"LayerNorm", "[2, 3]", "4 features"}},
        {"dropout_layer_with_p_1", [] { Dropout(1.0, 0); }, {"Dropout", "p = 1"}},
        {"recurrent_with_a_negative_hidden_size", [] { Generator g(1); Recurrent(CellType::LSTM, 3, -4, 1, g); }, {"LstmCell", "hidden_size = -4"}},
        {"recurrent_with_no_layers", [] { Generator g(1); Recurrent(CellType::GRU, 3, 4, 0, g); }, {"Recurrent", "num_layers", "0"}},
        {"rnn_cell_with_no_inputs", [] { Generator g(1); Recurrent(CellType::RNN, 0, 4, 1, g); }, {"RnnCell", "input_size = 0"}},
        {"recurrent_on_no_steps", [] { Generator g(1); Recurrent(CellType::LSTM, 3, 4, 1, g).forward(zeros({2, 0, 3})); }, {"recurrent", "T = 0"}},
        {"recurrent_on_a_2d_input", [] { Generator g(1); Recurrent(CellType::LSTM, 3, 4, 1, g).forward(zeros({2, 3})); }, {"recurrent", "[B, T, D]", "[2, 3]"}},
        {"recurrent_on_the_wrong_width", [] { Generator g(1); Recurrent(CellType::GRU, 3, 4, 1, g).forward(zeros({2, 5, 4})); }, {"recurrent", "[2, 5, 4]", "3 features"}},
        {"recurrent_with_a_length_past_T", [] { Generator g(1); Recurrent(CellType::LSTM, 3, 4, 1, g).forward(zeros({2, 4, 3}), {5, 2}); }, {"recurrent", "length 5", "T = 4"}},
        {"recurrent_with_a_zero_length", [] { Generator g(1); Recurrent(CellType::LSTM, 3, 4, 1, g).forward(zeros({2, 4, 3}), {0, 2}); }, {"recurrent", "length 0"}},
        {"recurrent_with_too_few_lengths", [] { Generator g(1); Recurrent(CellType::LSTM, 3, 4, 1, g).forward(zeros({2, 4, 3}), {4}); }, {"recurrent", "1 lengths", "batch of 2"}},
        {"recurrent_with_initial_states_for_other_layers", [] { Generator g(1); Recurrent(CellType::LSTM, 3, 4, 2, g).forward(zeros({2, 4, 3}), {}, {RecurrentState{}}); }, {"recurrent", "1 initial states", "2 layers"}},
        {"bilstm_with_no_layers", [] { Generator g(1); BiLstm(3, 4, 0, g); }, {"BiLstm", "num_layers", "0"}},
        {"bilstm_on_no_steps", [] { Generator g(1); BiLstm(3, 4, 1, g).forward(zeros({2, 0, 3})); }, {"bilstm", "T = 0"}},
        {"ql_lstm_with_block_size_0", [] { Generator g(1); QlLstmOptions o; o.block_size = 0; QlLstm(3, 4, g, o); }, {"QlLstm", "block_size", "0"}},
        {"ql_lstm_with_a_zero_hidden_size", [] { Generator g(1); QlLstm(3, 0, g); }, {"QlLstm", "hidden_size = 0"}},
        {"ql_lstm_on_no_steps", [] { Generator g(1); QlLstm(3, 4, g).forward(zeros({2, 0, 3})); }, {"ql_lstm", "T = 0"}},
        {"ql_lstm_on_the_wrong_width", [] { Generator g(1); QlLstm(3, 4, g).forward(zeros({2, 5, 6})); }, {"ql_lstm", "[2, 5, 6]", "3 features"}},
        {"pr_lstm_with_negative_refinements", [] { Generator g(1); PrLstm(3, 4, 2, g, -1); }, {"PrLstm", "refinements", "-1"}},
        {"pr_lstm_with_no_outputs", [] { Generator g(1); PrLstm(3, 4, 0, g); }, {"PrLstm", "output_size = 0"}},
        {"pr_lstm_on_no_positions", [] { Generator g(1); PrLstm(3, 4, 2, g).forward(zeros({2, 0, 3})); }, {"pr_lstm", "[2, 0, 3]", "n = 0"}},
        {"pr_lstm_on_the_wrong_width", [] { Generator g(1); PrLstm(3, 4, 2, g).forward(zeros({2, 5, 4})); }, {"pr_lstm", "[2, 5, 4]"}},
        {"module_list_index_past_the_end", [] { ModuleList<> list; list.push_back(std::make_unique<Tanh>()); list[1]; }, {"ModuleList", "index 1", "1 modules", "-1 <= index < 1"}},
        {"sequential_index_before_the_start", [] { Sequential s; s.push_back(std::make_unique<Tanh>()); s[-2]; }, {"ModuleList", "index -2"}},
        {"module_list_of_a_null_module", [] { ModuleList<Linear> list; list.push_back(nullptr); }, {"ModuleList::push_back", "null module"}},
        {"load_state_dict_missing_a_parameter", [] { Generator g(1); Linear a(2, 3, g); StateDict d = a.state_dict(); d.pop_back(); a.load_state_dict(d); },
         {"load_state_dict", "no tensor for 1", "'bias'"}},
        {"load_state_dict_with_an_unexpected_key", [] { Generator g(1); Linear a(2, 3, g); StateDict d = a.state_dict(); d.emplace_back("scale", zeros({1})); a.load_state_dict(d); },
         {"load_state_dict", "unexpected keys", "'scale'"}},
        {"load_state_dict_of_another_shape", [] { Generator g(1); Linear a(2, 3, g), b(4, 3, g); a.load_state_dict(b.state_dict(), false); },
         {"load_state_dict", "'weight' is [3, 4] float32", "[3, 2] float32 in the model"}},
        {"load_state_dict_with_a_key_twice", [] { Generator g(1); Linear a(2, 3, g); StateDict d = a.state_dict(); d.push_back(d[0]); a.load_state_dict(d); },
         {"load_state_dict", "key 'weight' twice"}},
        {"transformer_with_zero_heads", [] { Generator g(1); TransformerOptions o; o.heads = 0; TransformerEncoder(0, 3, o, g); }, {"Transformer", "heads = 0"}},
        {"transformer_with_indivisible_heads", [] { Generator g(1); TransformerOptions o; o.heads = 3; TransformerEncoder(0, 3, o, g); }, {"Transformer", "d_model 64", "3 heads"}},
        {"transformer_with_a_negative_width", [] { Generator g(1); TransformerOptions o; o.d_model = -8; TransformerEncoder(0, 3, o, g); }, {"Transformer", "d_model = -8"}},
        {"transformer_with_dropout_1", [] { Generator g(1); TransformerOptions o; o.dropout = 1.0; TransformerEncoder(0, 3, o, g); }, {"Dropout", "p = 1"}},
        {"transformer_on_no_steps", [] { Generator g(1); TransformerOptions o; o.d_model = 8; o.heads = 2; o.layers = 1;
                                         TransformerEncoder(0, 3, o, g).forward(zeros({2, 0, 3})); }, {"transformer", "T = 0"}},
        {"transformer_with_a_length_past_T", [] { Generator g(1); TransformerOptions o; o.d_model = 8; o.heads = 2; o.layers = 1;
                                                  TransformerEncoder(0, 3, o, g).forward(zeros({2, 4, 3}), {5, 2}); }, {"transformer", "length 5", "T = 4"}},
        {"transformer_on_token_ids_of_the_wrong_rank", [] { Generator g(1); TransformerOptions o; o.d_model = 8; o.heads = 2; o.layers = 1;
                                                           TransformerEncoder(10, 0, o, g).forward(Tensor::zeros({2, 4, 3}, DType::Int64)); }, {"transformer", "token ids [B, T]", "[2, 4, 3]"}},
    };
}

std::vector<Tensor> one_param() { return {leaf({2})}; }

std::vector<Misuse> optimizer_cases() {
    return {
        {"adam_with_a_nan_learning_rate", [] { AdamOptions o; o.lr = kNaN; Adam(one_param(), o); }, {"Adam", "lr = nan"}},
        {"adam_with_a_negative_learning_rate", [] { AdamOptions o; o.lr = -1e-3; Adam(one_param(), o); }, {"Adam", "lr = -0.001"}},
        {"adam_with_beta1_1", [] { AdamOptions o; o.beta1 = 1.0; Adam(one_param(), o); }, {"Adam", "beta1 = 1"}},
        {"adam_with_beta2_above_1", [] { AdamOptions o; o.beta2 = 1.5; Adam(one_param(), o); }, {"Adam", "beta2 = 1.5"}},
        {"adam_with_a_negative_eps", [] { AdamOptions o; o.eps = -1e-8; Adam(one_param(), o); }, {"Adam", "eps = -1e-08"}},
        {"adamw_with_infinite_weight_decay", [] { AdamOptions o; o.weight_decay = kInf; AdamW(one_param(), o); }, {"AdamW", "weight_decay = inf"}},
        {"adam_with_no_parameters", [] { Adam({}); }, {"Adam", "empty parameter list"}},
        {"adam_on_a_tensor_without_grad", [] { Adam({zeros({2})}); }, {"Adam", "parameter 0", "does not require grad"}},
        {"sgd_with_negative_momentum", [] { SgdOptions o; o.momentum = -0.9; SGD(one_param(), o); }, {"SGD", "momentum = -0.9"}},
        {"sgd_nesterov_without_momentum", [] { SgdOptions o; o.nesterov = true; SGD(one_param(), o); }, {"SGD", "Nesterov", "momentum 0"}},
        {"sgd_with_nan_dampening", [] { SgdOptions o; o.dampening = kNaN; SGD(one_param(), o); }, {"SGD", "dampening = nan"}},
        {"set_lr_to_a_negative_value", [] { Adam a(one_param()); a.set_lr(-1.0); }, {"Adam", "lr = -1"}},
        {"clip_grad_norm_with_a_negative_norm", [] { clip_grad_norm(one_param(), -1.0); }, {"clip_grad_norm", "max_norm = -1"}},
        {"clip_grad_norm_with_a_nan_norm", [] { clip_grad_norm(one_param(), kNaN); }, {"clip_grad_norm", "max_norm = nan"}},
        {"add_param_group_with_a_parameter_already_in_a_group", [] { Tensor p = leaf({2}); SGD sgd({p}); sgd.add_param_group({{p}}); },
         {"SGD::add_param_group", "parameter 0", "already in group 0"}},
        {"add_param_group_after_a_step", [] {
             Tensor p = leaf({2});
             SGD sgd({p});
             p.set_grad(zeros({2}));
             sgd.step();
             sgd.add_param_group({{leaf({3})}});
         }, {"SGD::add_param_group", "after 1 steps"}},
        {"add_param_group_with_a_negative_learning_rate", [] { Adam a(one_param()); a.add_param_group({{leaf({3})}, -0.5}); }, {"Adam::add_param_group", "lr = -0.5"}},
        {"add_param_group_with_nan_weight_decay", [] { Adam a(one_param()); a.add_param_group({{leaf({3})}, 0.1, kNaN}); }, {"Adam::add_param_group", "weight_decay = nan"}},
        {"add_param_group_of_a_tensor_without_grad", [] { SGD sgd(one_param()); sgd.add_param_group({{zeros({3})}}); }, {"SGD::add_param_group", "does not require grad"}},
        {"set_lr_of_a_missing_group", [] { SGD sgd(one_param()); sgd.set_lr(1, 0.1); }, {"SGD::set_lr", "group 1", "1 groups"}},
        {"lr_of_a_missing_group", [] { SGD sgd(one_param()); sgd.lr(2); }, {"SGD::lr", "group 2"}},
        {"warmup_with_negative_steps", [] { SGD sgd(one_param()); WarmupLR(sgd, -5); }, {"WarmupLR", "warmup_steps = -5"}},
        {"warmup_cosine_with_no_steps", [] { SGD sgd(one_param()); WarmupCosineLR(sgd, 0); }, {"WarmupCosineLR", "total_steps = 0"}},
        {"warmup_cosine_with_a_nan_minimum", [] { SGD sgd(one_param()); WarmupCosineLR(sgd, 10, 0, kNaN); }, {"WarmupCosineLR", "min_lr = nan"}},
        {"step_lr_with_step_size_0", [] { SGD sgd(one_param()); StepLR(sgd, 0); }, {"StepLR", "step_size = 0"}},
        {"linear_lr_with_start_factor_0", [] { SGD sgd(one_param()); LinearLR(sgd, 0.0); }, {"LinearLR", "start_factor = 0", "0 < start_factor <= 1"}},
        {"cosine_annealing_with_t_max_0", [] { SGD sgd(one_param()); CosineAnnealingLR(sgd, 0); }, {"CosineAnnealingLR", "T_max = 0"}},
        {"lambda_lr_without_a_function", [] { SGD sgd(one_param()); LambdaLR(sgd, nullptr); }, {"LambdaLR", "lr_lambda is empty"}},
        {"lambda_lr_giving_a_negative_rate", [] { SGD sgd(one_param()); LambdaLR(sgd, [](int64_t) { return -2.0; }); }, {"SGD::set_lr", "lr = -0.02"}},
        {"scheduler_with_last_epoch_below_minus_1", [] { SGD sgd(one_param()); StepLR(sgd, 2, 0.5, -3); }, {"StepLR", "last_epoch = -3"}},
    };
}

// A temporary folder for the checkpoint cases, removed at exit.
struct TempDir {
    fs::path path = fs::temp_directory_path() / ("tapegrad_misuse_" + std::to_string(getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() { fs::remove_all(path); }
};
const TempDir& temp_dir() {
    static TempDir dir;
    return dir;
}

// A file of the given bytes in the temporary folder; its path.
std::string file_of(const std::string& name, const std::string& bytes) {
    const std::string path = (temp_dir().path / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

// A safetensors file: the 8-byte little-endian header length, the header, then `data`.
std::string safetensors_file(const std::string& name, const std::string& header, const std::string& data) {
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
    return file_of(name, bytes + header + data);
}

std::vector<Misuse> checkpoint_cases() {
    return {
        {"load_a_missing_file", [] { load_tensors((temp_dir().path / "nowhere.safetensors").string()); }, {"nowhere.safetensors"}},
        {"load_a_directory", [] { load_tensors(temp_dir().path.string()); }, {temp_dir().path.string()}},
        {"load_a_file_shorter_than_its_length", [] { load_tensors(file_of("short.safetensors", "abc")); }, {"short.safetensors", "truncated"}},
        {"load_a_header_longer_than_the_file", [] { load_tensors(file_of("long.safetensors", std::string("\xff\0\0\0\0\0\0\0{}", 10))); }, {"long.safetensors"}},
        {"load_a_header_that_is_not_json", [] { load_tensors(safetensors_file("notjson.safetensors", "{nope}", "")); }, {"notjson.safetensors", "JSON"}},
        {"load_a_duplicate_tensor_name", [] {
             load_tensors(safetensors_file("dup.safetensors",
                                           R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                           std::string(8, '\0')));
         }, {"dup.safetensors", "'a'"}},
        {"load_overlapping_offsets", [] {
             load_tensors(safetensors_file("overlap.safetensors",
                                           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                           std::string(8, '\0')));
         }, {"overlap.safetensors", "overlap"}},
        {"load_trailing_bytes", [] {
             load_tensors(safetensors_file("trailing.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(9, '\0')));
         }, {"trailing.safetensors"}},
        {"load_a_fractional_extent", [] {
             load_tensors(safetensors_file("fraction.safetensors", R"({"a":{"dtype":"F32","shape":[4.7],"data_offsets":[0,16]}})", std::string(16, '\0')));
         }, {"fraction.safetensors", "'a'"}},
        {"load_an_overflowing_shape", [] {
             load_tensors(safetensors_file("huge.safetensors", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""));
         }, {"huge.safetensors", "'a'"}},
        {"load_an_unknown_dtype", [] {
             load_tensors(safetensors_file("dtype.safetensors", R"({"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", std::string(2, '\0')));
         }, {"dtype.safetensors", "BF16"}},
        {"save_a_tensor_named_metadata", [] { save_tensors((temp_dir().path / "meta.safetensors").string(), {{"__metadata__", zeros({1})}}); }, {"__metadata__", "reserved"}},
        {"load_a_checkpoint_into_another_model", [] {
             Generator g(1);
             Linear small(2, 3, g), big(4, 3, g);
             const std::string path = (temp_dir().path / "small.safetensors").string();
             save_checkpoint(path, small);
             load_checkpoint(path, big);
         }, {"small.safetensors", "weight", "[3, 2]", "[3, 4]"}},
        {"load_a_checkpoint_without_optimizer_state", [] {
             Generator g(1);
             Linear layer(2, 3, g);
             const std::string path = (temp_dir().path / "no_optim.safetensors").string();
             save_checkpoint(path, layer);
             Adam adam(layer.parameters());
             load_checkpoint(path, layer, &adam);
         }, {"no_optim.safetensors", "optimizer."}},
    };
}

// parse_options on these arguments (after the program name), its --help output discarded.
void parse(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"tapegrad-train"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::ostringstream out;
    train::parse_options(argv, out);
}

std::vector<Misuse> trainer_option_cases() {
    return {
        {"an_unknown_option", [] { parse({"--hiden", "64"}); }, {"--hiden"}},
        {"an_unknown_task", [] { parse({"--task", "parity"}); }, {"parity"}},
        {"an_unknown_model", [] { parse({"--model", "lstn"}); }, {"lstn"}},
        {"a_hidden_size_that_is_not_a_number", [] { parse({"--hidden", "abc"}); }, {"--hidden", "abc"}},
        {"a_negative_hidden_size", [] { parse({"--hidden", "-4"}); }, {"--hidden", "-4"}},
        {"a_nan_learning_rate", [] { parse({"--lr", "nan"}); }, {"--lr", "nan"}},
        {"a_zero_batch_size", [] { parse({"--batch-size", "0"}); }, {"--batch-size", "0"}},
        {"an_unknown_optimizer", [] { parse({"--optimizer", "adagrad"}); }, {"adagrad"}},
        {"an_unknown_schedule", [] { parse({"--schedule", "step"}); }, {"step"}},
        {"an_unknown_protocol", [] { parse({"--protocol", "huge"}); }, {"huge"}},
        {"an_unknown_device", [] { parse({"--device", "tpu"}); }, {"tpu"}},
        {"test_lengths_in_the_wrong_order", [] { parse({"--min-test-length", "50", "--max-test-length", "41"}); }, {"50", "41"}},
        {"a_validation_fraction_of_1", [] { parse({"--validation-fraction", "1"}); }, {"--validation-fraction", "1"}},
        {"an_unknown_truncation", [] { parse({"--truncate", "middle"}); }, {"middle"}},
        {"an_option_missing_its_value", [] { parse({"--lr"}); }, {"--lr"}},
    };
}

// Registers one test case per misuse under suite `area`: the call must throw tapegrad::Error
// whose message holds every fragment.
void register_cases(const std::string& area, const std::vector<Misuse>& cases) {
    namespace utf = boost::unit_test;
    utf::test_suite* suite = BOOST_TEST_SUITE(area);
    for (const Misuse& m : cases) {
        suite->add(utf::make_test_case(
            [m] {
                bool thrown = false;
                try {
                    m.call();
                } catch (const Error& e) {
                    thrown = true;
                    for (const std::string& fragment : m.says)
                        BOOST_CHECK_MESSAGE(std::string(e.what()).find(fragment) != std::string::npos,
                                            "error message '" << e.what() << "' lacks '" << fragment << "'");
                } catch (const std::exception& e) {
                    BOOST_ERROR("threw a " << typeid(e).name() << ", not a tapegrad::Error: " << e.what());
                    return;
                }
                BOOST_CHECK_MESSAGE(thrown, "expected a tapegrad::Error");
            },
            m.name, __FILE__, __LINE__));
    }
    utf::framework::master_test_suite().add(suite);
}

const bool registered = [] {
    register_cases("core", core_cases());
    register_cases("ops", ops_cases());
    register_cases("models", models_cases());
    register_cases("optimizers", optimizer_cases());
    register_cases("checkpoints", checkpoint_cases());
    register_cases("trainer_options", trainer_option_cases());
    return true;
}();

}  // namespace
