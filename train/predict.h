/// \file
/// tapegrad-train --predict FILE: a trained IMDB run classifies new text.
///
/// The run is the folder --out names: its checkpoint.safetensors (the parameters, and in its
/// metadata the options that built the model) and vocab.txt (the words the model's embedding rows
/// stand for, written by the run). Every line of FILE holding a token is one document, tokenized
/// and cut to the run's --max-length as in training; blank lines are skipped.
#pragma once
#include <iosfwd>

#include "trainer.h"

namespace tapegrad::train {

/// Writes a header "line<TAB>label<TAB>probability", then per document its line number in FILE,
/// "positive" or "negative", and the model's probability of that label. config.predict is FILE,
/// config.out_dir the run, config.device where the model runs; the rest comes from the run.
/// Errors name what is missing: the checkpoint, the vocabulary, FILE, or an IMDB run.
void run_prediction(const TrainConfig& config, std::ostream& out);

}  // namespace tapegrad::train
