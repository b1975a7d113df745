/// \file
/// The IMDB long-document sentiment data (Maas et al., 2011, "aclImdb"): reading, tokenizing,
/// a vocabulary, truncation, a validation hold-out and length-bucketed batches.
///
/// Two layouts are read:
///   - the compact copy: `<dir>/train.tsv.gz` and `<dir>/test.tsv.gz`, gzipped UTF-8, a header line
///     "label\ttext", then one "label<TAB>text" line per review (no quoting; label 0 neg, 1 pos);
///   - the official archive unpacked: `<dir>/aclImdb/{train,test}/{neg,pos}/{id}_{rating}.txt`
///     (or `<dir>` itself being the aclImdb folder), read as negatives then positives, by id.
///
/// Tokenizer (documented contract, used for the vocabulary and the encoding alike):
///   1. "<br />" line breaks (also "<br/>" and "<br>", any case) become spaces;
///   2. ASCII letters are lowercased (other bytes are kept as they are);
///   3. a word is a maximal run of ASCII letters, digits and non-ASCII UTF-8 characters, with an
///      apostrophe kept inside it when it sits between two such characters ("don't", "it's");
///   4. every other visible ASCII character is a token of its own ("!", ".", "(", "'" ...);
///   5. whitespace, ASCII control characters and U+0085 (NEL) separate tokens and are dropped.
///   "Great film!<br /><br />Don't miss it." -> great film ! don't miss it .
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/random.h"
#include "../core/tensor.h"

namespace tapegrad::data {

/// One review: its label and its raw text.
struct Review {
    int64_t label;  ///< 0 negative, 1 positive
    std::string text;  ///< the review as written (HTML line breaks included)
};

/// The most bytes of text one file may hold (once decompressed), unless told otherwise: the
/// official data's largest file, train.tsv.gz, holds about 33 MB.
constexpr uint64_t kDefaultMaxFileBytes = uint64_t(1) << 30;

/// All reviews of a gzipped TSV file (header "label\ttext"). Throws naming the file if it is not
/// whole, valid gzip (truncated, CRC or length mismatch, trailing bytes that are not gzip) or if
/// it holds more than max_bytes of text.
std::vector<Review> read_reviews_tsv(const std::string& path, uint64_t max_bytes = kDefaultMaxFileBytes);
/// All reviews of an official split folder (`<split>/neg` then `<split>/pos`, ascending id), whose .txt
/// files must be named {id}_{rating}.txt and hold at most max_file_bytes each.
std::vector<Review> read_acl_imdb_split(const std::string& split_dir, uint64_t max_file_bytes = kDefaultMaxFileBytes);

/// The tokens of `text` by the tokenizer above (the file's description).
std::vector<std::string> tokenize(const std::string& text);

/// Word ids: 0 is padding, 1 is every word outside the vocabulary, then words by falling
/// frequency (ties alphabetically).
class Vocabulary {
public:
    static constexpr int64_t kPad = 0;  ///< the id of padding
    static constexpr int64_t kUnknown = 1;  ///< the id of every word outside the vocabulary

    /// The `max_words` most frequent tokens of `documents`, after "<pad>" and "<unk>".
    static Vocabulary build(const std::vector<std::vector<std::string>>& documents, int64_t max_words);

    /// A trained run's vocabulary, saved beside its checkpoint: one word a line, in id order (no
    /// word holds a line break: the tokenizer splits there), written atomically.
    void save(const std::string& path) const;
    /// A vocabulary saved by save(). Checks the file is one (`<pad>`, `<unk>`, then distinct
    /// words), naming the file and the line if not.
    static Vocabulary load(const std::string& path);

    int64_t size() const { return int64_t(words_.size()); }  ///< the number of ids, padding and unknown included
    int64_t id(const std::string& word) const;  ///< the id of `word` (kUnknown when it is not in the vocabulary)
    const std::string& word(int64_t id) const;  ///< the word of `id`

private:
    std::vector<std::string> words_;
    std::unordered_map<std::string, int64_t> ids_;
};

/// Which tokens encode() keeps of a document longer than max_length: its first or its last ones.
enum class Truncation { KeepFirst, KeepLast };

/// Token ids of one document, cut to at most max_length tokens (its first or its last ones).
std::vector<int64_t> encode(const std::vector<std::string>& tokens, const Vocabulary& vocab, int64_t max_length,
                            Truncation truncation = Truncation::KeepFirst);

/// One review as token ids, with its label.
struct EncodedReview {
    std::vector<int64_t> tokens;  ///< 1..max_length ids (an empty review keeps one `<unk>`)
    int64_t label;  ///< 0 negative, 1 positive
};

/// Where load_imdb reads the data, and how it encodes and splits it.
struct ImdbConfig {
    std::string data_dir;  ///< empty: the TAPEGRAD_IMDB_DIR environment variable
    int64_t vocab_size = 20000;  ///< words, besides `<pad>` and `<unk>`
    int64_t max_length = 256;  ///< tokens per review; longer ones are truncated
    Truncation truncation = Truncation::KeepFirst;  ///< which end of a long review is kept
    double validation_fraction = 0.1;  ///< of the training split, held out at random
    uint64_t seed = 0;                 ///< picks the validation reviews
    uint64_t max_file_bytes = kDefaultMaxFileBytes;  ///< of text per file, against gzip bombs
};

/// A document's ids as training and testing see them: encode() under config's max_length and
/// truncation, and an empty document keeps one `<unk>` (so that every length is at least 1).
std::vector<int64_t> encode_document(const std::vector<std::string>& tokens, const Vocabulary& vocab,
                                     const ImdbConfig& config);

/// The vocabulary and the three encoded splits.
struct ImdbDataset {
    Vocabulary vocab;  ///< built from `train` only (not validation, not test)
    /// the three splits: the training reviews less the validation hold-out, the held-out ones, the test split
    ///@{
    std::vector<EncodedReview> train, validation, test;
    ///@}
};

/// Reads, tokenizes, splits and encodes. A directory without the data is an Error that says where
/// to get the dataset and how to point tapegrad at it.
ImdbDataset load_imdb(const ImdbConfig& config);

/// Reviews of one batch as padded tensors.
struct TextBatch {
    Tensor tokens;   ///< [B, T] Int64, T = the longest review of the batch, right-padded with kPad
    Tensor lengths;  ///< [B] Int64, the number of real tokens of each row
    Tensor labels;   ///< [B] Int64
};
/// The reviews `indices` of `reviews` as one padded batch.
TextBatch make_text_batch(const std::vector<EncodedReview>& reviews, const std::vector<int64_t>& indices);

/// One epoch of batches (indices into `reviews`) with length bucketing: shuffle all reviews, cut
/// them into pools of pool_batches * batch_size, sort each pool by length, cut the pools into
/// batches and shuffle the batches. Short reviews then share batches with short ones, so padding
/// stays small while the order stays random. The last batch of a pool may be smaller.
std::vector<std::vector<int64_t>> bucketed_batches(const std::vector<EncodedReview>& reviews, int64_t batch_size,
                                                   Generator& gen, int64_t pool_batches = 50);

}  // namespace tapegrad::data
