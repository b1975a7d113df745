// Looking inside the tape: a printout of the records a forward pass left on it.
#pragma once
#include <iosfwd>

#include "autograd/tape.h"

namespace tapegrad {

// One line per record, in the order the ops ran:
//   #4    mlp/hidden1   tanh                 inputs #3             -> [256, 16]
// `inputs` names the records that produced each input, or "leaf" for a tensor no op on this
// tape produced (data, parameters).
void print_tape(std::ostream& os, const Tape& tape);

}  // namespace tapegrad
