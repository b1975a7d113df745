#include "imdb.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "../core/atomic_file.h"
#include "../core/error.h"
#include "random_draws.h"

namespace tapegrad::data {

namespace fs = std::filesystem;

namespace {

const char* const kWhereToGetIt =
    "download the Large Movie Review Dataset v1.0 (aclImdb_v1.tar.gz) from Stanford's AI lab page "
    "https://ai.stanford.edu/~amaas/data/sentiment/, unpack it (tar xzf aclImdb_v1.tar.gz), and point tapegrad "
    "at the folder that holds aclImdb/ (or at a folder with train.tsv.gz and test.tsv.gz) with --data-dir DIR "
    "(ImdbConfig::data_dir) or the TAPEGRAD_IMDB_DIR environment variable";

// Calls take(chunk, size) for each piece of the file at `path`, in order.
void for_each_chunk(const std::string& path, const std::function<void(const char*, size_t)>& take) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("imdb", "cannot open '{}'", path);
    char chunk[1 << 16];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) take(chunk, size_t(in.gcount()));
    if (in.bad()) fail("imdb", "cannot read '{}' (a folder, or a read error)", path);  // a folder opens, then fails to read
}

// Appends `size` bytes to `content`, refusing to let it grow past max_bytes (a gzip bomb would
// otherwise fill the memory: 1 MB of gzip can hold gigabytes).
void append_capped(std::string& content, const char* bytes, size_t size, uint64_t max_bytes, const std::string& path) {
    if (content.size() + size > max_bytes)
        fail("imdb", "'{}' holds more than {} bytes of text (the limit, ImdbConfig::max_file_bytes)", path, max_bytes);
    content.append(bytes, size);
}

// zlib's inflate state for gzip data (windowBits 15 + 16: the gzip wrapper only, no zlib or raw
// deflate), released however the reading ends.
struct GzipInflater {
    z_stream stream{};
    explicit GzipInflater(const std::string& path) {
        int status = inflateInit2(&stream, 15 + 16);
        if (status != Z_OK) fail("imdb", "cannot start decompressing '{}': {}", path, zError(status));
    }
    ~GzipInflater() { inflateEnd(&stream); }
};

// What a failed inflate call means, in words.
std::string gzip_problem(int status, const z_stream& stream) {
    std::string message = stream.msg ? stream.msg : zError(status);
    if (message == "incorrect data check") return "CRC mismatch (" + message + ")";
    if (message == "incorrect length check") return "length mismatch (" + message + ")";
    return message;
}

// The text of a gzip file: every member, one after another (as gzip -d gives them). Refused: a
// file that ends before a member's end and its trailer (truncated), a member whose CRC-32 or length
// trailer disagrees with its data, bytes after a member that are not another member, and more than
// max_bytes of text.
std::string read_gzip(const std::string& path, uint64_t max_bytes) {
    GzipInflater inflater(path);
    z_stream& z = inflater.stream;
    std::string content;
    bool member_ended = false;  // inflate returns Z_STREAM_END only once the trailer has checked out
    for_each_chunk(path, [&](const char* chunk, size_t size) {
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk));
        z.avail_in = uInt(size);
        bool output_pending = false;  // the last call filled the output buffer: zlib may hold more
        while (z.avail_in > 0 || output_pending) {
            if (member_ended) inflateReset(&z);  // another member follows
            unsigned char output[1 << 16];
            z.next_out = output;
            z.avail_out = sizeof output;
            int status = inflate(&z, Z_NO_FLUSH);
            if (status == Z_BUF_ERROR) break;  // nothing was pending after all: needs the next chunk
            if (status != Z_OK && status != Z_STREAM_END)
                fail("imdb", "'{}' is not valid gzip: {}", path, gzip_problem(status, z));
            append_capped(content, reinterpret_cast<const char*>(output), sizeof output - z.avail_out, max_bytes, path);
            member_ended = status == Z_STREAM_END;
            output_pending = !member_ended && z.avail_out == 0;
        }
    });
    if (!member_ended)
        fail("imdb", "'{}' is truncated: its gzip data ends before the end of the compressed stream and its CRC/length trailer",
             path);
    return content;
}

std::string read_file(const std::string& path, uint64_t max_bytes) {
    std::string content;
    for_each_chunk(path, [&](const char* chunk, size_t size) { append_capped(content, chunk, size, max_bytes, path); });
    return content;
}

// A review's id from its file name "{id}_{rating}.txt", both decimal numbers (the official layout).
int64_t review_id(const fs::path& file) {
    std::string name = file.filename().string();
    size_t underscore = name.find('_'), dot = name.size() - 4;  // the caller checked the ".txt"
    auto is_number = [&](size_t begin, size_t end) {
        return begin < end && std::all_of(name.begin() + begin, name.begin() + end, [](char c) { return c >= '0' && c <= '9'; });
    };
    int64_t id = 0;
    if (underscore == std::string::npos || !is_number(0, underscore) || !is_number(underscore + 1, dot) ||
        std::from_chars(name.data(), name.data() + underscore, id).ec != std::errc())
        fail("imdb", "'{}' is not named {{id}}_{{rating}}.txt (two decimal numbers, the id below 2^63)", file.string());
    return id;
}

bool is_word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

// Replaces "<br />", "<br/>" and "<br>" (any case) with a space.
std::string without_line_breaks(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '<' && i + 3 < text.size() && std::tolower((unsigned char)text[i + 1]) == 'b' &&
            std::tolower((unsigned char)text[i + 2]) == 'r') {
            size_t j = i + 3;
            while (j < text.size() && text[j] == ' ') ++j;
            if (j < text.size() && text[j] == '/') ++j;
            if (j < text.size() && text[j] == '>') {
                out += ' ';
                i = j;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// Whether `path` is a folder (or a file); a path that cannot be looked at counts as neither
// (std::filesystem would throw its own exception, not an Error).
bool is_folder(const fs::path& path) {
    std::error_code ignored;
    return fs::is_directory(path, ignored);
}
bool is_file(const fs::path& path) {
    std::error_code ignored;
    return fs::is_regular_file(path, ignored);
}

bool has_split_folders(const fs::path& dir) {
    return is_folder(dir / "train" / "neg") && is_folder(dir / "train" / "pos") && is_folder(dir / "test" / "neg") &&
           is_folder(dir / "test" / "pos");
}

std::vector<EncodedReview> encode_all(const std::vector<Review>& reviews, const std::vector<std::vector<std::string>>& tokens,
                                      const std::vector<int64_t>& indices, const Vocabulary& vocab,
                                      const ImdbConfig& config) {
    std::vector<EncodedReview> out;
    out.reserve(indices.size());
    for (int64_t i : indices) {
        out.push_back({encode_document(tokens[size_t(i)], vocab, config), reviews[size_t(i)].label});
    }
    return out;
}

}  // namespace

std::vector<Review> read_reviews_tsv(const std::string& path, uint64_t max_bytes) {
    std::string content = read_gzip(path, max_bytes);
    std::vector<Review> reviews;
    size_t start = 0, line_number = 0;
    while (start < content.size()) {
        size_t end = content.find('\n', start);
        if (end == std::string::npos) end = content.size();
        std::string line = content.substr(start, end - start);
        start = end + 1;
        if (line_number++ == 0) {
            if (line != "label\ttext") fail("imdb", "'{}' line 1 is '{:.40}' (expected the header 'label\\ttext')", path, line);
            continue;
        }
        size_t tab = line.find('\t');
        std::string label = line.substr(0, tab);
        if (tab == std::string::npos || (label != "0" && label != "1"))
            fail("imdb", "'{}' line {}: '{:.40}' (expected 'label<TAB>text' with label 0 or 1)", path, line_number, line);
        reviews.push_back({label == "1" ? 1 : 0, line.substr(tab + 1)});
    }
    return reviews;
}

std::vector<Review> read_acl_imdb_split(const std::string& split_dir, uint64_t max_file_bytes) {
    std::vector<Review> reviews;
    for (int64_t label : {0, 1}) {
        fs::path folder = fs::path(split_dir) / (label == 1 ? "pos" : "neg");
        if (!is_folder(folder)) fail("imdb", "'{}' is not a folder (expected aclImdb's {}/neg and {}/pos)",
                                            folder.string(), split_dir, split_dir);
        std::vector<std::pair<int64_t, fs::path>> files;  // (review id, path)
        try {
            for (const fs::directory_entry& entry : fs::directory_iterator(folder))
                if (entry.path().extension() == ".txt") files.emplace_back(review_id(entry.path()), entry.path());
        } catch (const fs::filesystem_error& e) {
            fail("imdb", "cannot list '{}': {}", folder.string(), e.what());
        }
        std::sort(files.begin(), files.end());
        for (const auto& file : files) reviews.push_back({label, read_file(file.second.string(), max_file_bytes)});
    }
    return reviews;
}

std::vector<std::string> tokenize(const std::string& raw_text) {
    std::string text = without_line_breaks(raw_text);
    std::vector<std::string> tokens;
    std::string word;
    auto flush = [&] {
        if (!word.empty()) tokens.push_back(std::move(word));
        word.clear();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        unsigned char c = (unsigned char)text[i];
        if (c == 0xC2 && i + 1 < text.size() && (unsigned char)text[i + 1] == 0x85) {  // U+0085 NEL
            flush();
            ++i;
        } else if (is_word_byte(c)) {
            word += char(std::tolower(c));
        } else if (c == '\'' && !word.empty() && i + 1 < text.size() && is_word_byte((unsigned char)text[i + 1])) {
            word += '\'';
        } else {
            flush();
            if (c > ' ' && c < 0x7F) tokens.emplace_back(1, char(c));
        }
    }
    flush();
    return tokens;
}

Vocabulary Vocabulary::build(const std::vector<std::vector<std::string>>& documents, int64_t max_words) {
    if (max_words < 0) fail("Vocabulary::build", "max_words is {} (expected >= 0)", max_words);
    std::unordered_map<std::string, int64_t> counts;
    for (const auto& document : documents)
        for (const std::string& token : document) ++counts[token];
    std::vector<std::pair<std::string, int64_t>> ranked(counts.begin(), counts.end());
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (int64_t(ranked.size()) > max_words) ranked.resize(size_t(max_words));
    Vocabulary vocab;
    vocab.words_ = {"<pad>", "<unk>"};
    for (const auto& entry : ranked) vocab.words_.push_back(entry.first);
    for (size_t i = 0; i < vocab.words_.size(); ++i) vocab.ids_[vocab.words_[i]] = int64_t(i);
    return vocab;
}

void Vocabulary::save(const std::string& path) const {
    std::string text;
    for (const std::string& word : words_) text += word + '\n';
    write_file_atomically(path, {text}, "Vocabulary::save");
}

Vocabulary Vocabulary::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("Vocabulary::load", "cannot read '{}'", path);
    Vocabulary vocab;
    for (std::string word; std::getline(in, word);) {
        const int64_t id = int64_t(vocab.words_.size());
        const char* expected = id == kPad ? "<pad>" : id == kUnknown ? "<unk>" : nullptr;
        if (expected && word != expected)
            fail("Vocabulary::load", "'{}' line {} is '{}' (expected '{}': not a vocabulary file?)", path, id + 1, word, expected);
        if (word.empty()) fail("Vocabulary::load", "'{}' line {} is empty (expected a word)", path, id + 1);
        if (!vocab.ids_.emplace(word, id).second)
            fail("Vocabulary::load", "'{}' line {} repeats '{}' (line {})", path, id + 1, word, vocab.ids_[word] + 1);
        vocab.words_.push_back(word);
    }
    if (vocab.words_.size() < 2)
        fail("Vocabulary::load", "'{}' ends before its line 2 (expected <pad>, <unk>, then the words)", path);
    return vocab;
}

int64_t Vocabulary::id(const std::string& word) const {
    auto it = ids_.find(word);
    return it == ids_.end() ? kUnknown : it->second;
}

const std::string& Vocabulary::word(int64_t id) const {
    if (id < 0 || id >= size()) fail("Vocabulary::word", "id {} is outside [0, {})", id, size());
    return words_[size_t(id)];
}

std::vector<int64_t> encode(const std::vector<std::string>& tokens, const Vocabulary& vocab, int64_t max_length,
                            Truncation truncation) {
    if (max_length < 1) fail("imdb::encode", "max_length is {} (expected >= 1)", max_length);
    size_t count = std::min(tokens.size(), size_t(max_length));
    size_t first = truncation == Truncation::KeepFirst ? 0 : tokens.size() - count;
    std::vector<int64_t> ids;
    ids.reserve(count);
    for (size_t i = first; i < first + count; ++i) ids.push_back(vocab.id(tokens[i]));
    return ids;
}

ImdbDataset load_imdb(const ImdbConfig& config) {
    std::string dir = config.data_dir;
    if (dir.empty() && std::getenv("TAPEGRAD_IMDB_DIR")) dir = std::getenv("TAPEGRAD_IMDB_DIR");
    if (dir.empty()) fail("imdb", "no data folder given: {}", kWhereToGetIt);
    if (config.validation_fraction < 0.0 || config.validation_fraction >= 1.0)
        fail("imdb", "validation_fraction is {} (expected 0 <= fraction < 1)", config.validation_fraction);
    fs::path root(dir);
    std::vector<Review> train, test;
    if (is_file(root / "train.tsv.gz") && is_file(root / "test.tsv.gz")) {
        train = read_reviews_tsv((root / "train.tsv.gz").string(), config.max_file_bytes);
        test = read_reviews_tsv((root / "test.tsv.gz").string(), config.max_file_bytes);
    } else if (has_split_folders(root / "aclImdb") || has_split_folders(root)) {
        fs::path acl = has_split_folders(root / "aclImdb") ? root / "aclImdb" : root;
        train = read_acl_imdb_split((acl / "train").string(), config.max_file_bytes);
        test = read_acl_imdb_split((acl / "test").string(), config.max_file_bytes);
    } else {
        fail("imdb", "no IMDB data in '{}' (looked for train.tsv.gz and test.tsv.gz, and for aclImdb/train/{{neg,pos}} "
             "and aclImdb/test/{{neg,pos}}): {}", dir, kWhereToGetIt);
    }
    if (train.empty() || test.empty()) fail("imdb", "'{}' holds {} training and {} test reviews (expected some of each)",
                                            dir, train.size(), test.size());

    // Hold out a random validation_fraction of the training reviews.
    std::vector<int64_t> order(train.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
    Generator gen(config.seed);
    shuffle(order, gen);
    size_t held_out = size_t(std::llround(config.validation_fraction * double(train.size())));
    std::vector<int64_t> validation_ids(order.begin(), order.begin() + held_out), train_ids(order.begin() + held_out, order.end());
    std::sort(validation_ids.begin(), validation_ids.end());
    std::sort(train_ids.begin(), train_ids.end());

    std::vector<std::vector<std::string>> train_tokens, test_tokens;
    for (const Review& r : train) train_tokens.push_back(tokenize(r.text));
    for (const Review& r : test) test_tokens.push_back(tokenize(r.text));
    std::vector<std::vector<std::string>> vocabulary_documents;
    for (int64_t i : train_ids) vocabulary_documents.push_back(train_tokens[size_t(i)]);

    ImdbDataset data;
    data.vocab = Vocabulary::build(vocabulary_documents, config.vocab_size);
    data.train = encode_all(train, train_tokens, train_ids, data.vocab, config);
    data.validation = encode_all(train, train_tokens, validation_ids, data.vocab, config);
    std::vector<int64_t> test_ids(test.size());
    for (size_t i = 0; i < test_ids.size(); ++i) test_ids[i] = int64_t(i);
    data.test = encode_all(test, test_tokens, test_ids, data.vocab, config);
    return data;
}

std::vector<int64_t> encode_document(const std::vector<std::string>& tokens, const Vocabulary& vocab,
                                     const ImdbConfig& config) {
    std::vector<int64_t> ids = encode(tokens, vocab, config.max_length, config.truncation);
    if (ids.empty()) ids.push_back(Vocabulary::kUnknown);
    return ids;
}

TextBatch make_text_batch(const std::vector<EncodedReview>& reviews, const std::vector<int64_t>& indices) {
    if (indices.empty()) fail("make_text_batch", "no reviews selected");
    size_t longest = 0;
    for (int64_t i : indices) {
        if (i < 0 || i >= int64_t(reviews.size())) fail("make_text_batch", "index {} is outside [0, {})", i, reviews.size());
        longest = std::max(longest, reviews[size_t(i)].tokens.size());
    }
    int64_t batch = int64_t(indices.size()), steps = int64_t(longest);
    std::vector<int64_t> tokens(size_t(batch * steps), Vocabulary::kPad), lengths, labels;
    for (int64_t b = 0; b < batch; ++b) {
        const EncodedReview& r = reviews[size_t(indices[size_t(b)])];
        std::copy(r.tokens.begin(), r.tokens.end(), tokens.begin() + b * steps);
        lengths.push_back(int64_t(r.tokens.size()));
        labels.push_back(r.label);
    }
    return {Tensor::from_vector(tokens, {batch, steps}), Tensor::from_vector(lengths, {batch}),
            Tensor::from_vector(labels, {batch})};
}

std::vector<std::vector<int64_t>> bucketed_batches(const std::vector<EncodedReview>& reviews, int64_t batch_size,
                                                   Generator& gen, int64_t pool_batches) {
    if (batch_size < 1 || pool_batches < 1)
        fail("bucketed_batches", "batch_size {} and pool_batches {} (expected both >= 1)", batch_size, pool_batches);
    std::vector<int64_t> order(reviews.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
    shuffle(order, gen);
    std::vector<std::vector<int64_t>> batches;
    size_t pool_size = size_t(batch_size * pool_batches);
    for (size_t pool = 0; pool < order.size(); pool += pool_size) {
        auto begin = order.begin() + pool, end = order.begin() + std::min(order.size(), pool + pool_size);
        std::stable_sort(begin, end, [&](int64_t a, int64_t b) {
            return reviews[size_t(a)].tokens.size() < reviews[size_t(b)].tokens.size();
        });
        for (auto it = begin; it < end; it += std::min<ptrdiff_t>(batch_size, end - it))
            batches.emplace_back(it, it + std::min<ptrdiff_t>(batch_size, end - it));
    }
    shuffle(batches, gen);
    return batches;
}

}  // namespace tapegrad::data
