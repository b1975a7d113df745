#define BOOST_TEST_MODULE imdb

#include <filesystem>
#include <fstream>
#include <set>

#include "data/imdb.h"
#include "tests/test_files.h"
#include "tests/test_helpers.h"


using namespace tapegrad;
using namespace tapegrad::data;
namespace fs = std::filesystem;
using tapegrad::testing::write_gzip;

namespace {

// TempDir("name"): a fresh folder for one test.
struct TempDir : tapegrad::testing::TempDir {
    explicit TempDir(const std::string& name) : tapegrad::testing::TempDir("tapegrad_imdb", name) {}
};

// Ten training and four test reviews. Training review i holds the word "trainword<i>" once;
// test reviews hold "testonly", which must never enter the vocabulary.
std::vector<Review> fixture_train() {
    std::vector<Review> r;
    for (int i = 0; i < 10; ++i) {
        std::string text = "\"Movie\" number trainword" + std::to_string(i) + " was";
        for (int j = 0; j <= i; ++j) text += " very";
        text += i % 2 ? " good!<br /><br />Loved it." : " bad... Hated it.";
        r.push_back({i % 2, text});
    }
    return r;
}
std::vector<Review> fixture_test() {
    return {{0, "Bad testonly film."}, {0, "Terrible, testonly."}, {1, "Good testonly fun!"}, {1, "Great."}};
}

std::string as_tsv(const std::vector<Review>& reviews) {
    std::string tsv = "label\ttext\n";
    for (const Review& r : reviews) tsv += std::to_string(r.label) + "\t" + r.text + "\n";
    return tsv;
}

void write_tsv_dataset(const fs::path& dir) {
    write_gzip(dir / "train.tsv.gz", as_tsv(fixture_train()));
    write_gzip(dir / "test.tsv.gz", as_tsv(fixture_test()));
}

// The official layout, ids out of lexical order (10 sorts before 2 as text).
void write_folder_dataset(const fs::path& root) {
    auto write_split = [&](const std::string& split, const std::vector<Review>& reviews) {
        int64_t next_id[2] = {0, 0};
        for (const Review& r : reviews) {
            fs::path folder = root / "aclImdb" / split / (r.label ? "pos" : "neg");
            fs::create_directories(folder);
            int64_t id = next_id[r.label]++;
            std::ofstream(folder / (std::to_string(id == 2 ? 10 : id) + "_" + (r.label ? "8" : "2") + ".txt")) << r.text;
        }
    };
    write_split("train", fixture_train());
    write_split("test", fixture_test());
}

}  // namespace

BOOST_AUTO_TEST_CASE(tokenize_hand_worked) {
    using T = std::vector<std::string>;
    BOOST_CHECK(tokenize("Great film!<br /><br />Don't miss it.") == (T{"great", "film", "!", "don't", "miss", "it", "."}));
    BOOST_CHECK(tokenize("\"IT'S\" 10/10 -- a must-see.<BR>ok<br/>") ==
                (T{"\"", "it's", "\"", "10", "/", "10", "-", "-", "a", "must", "-", "see", ".", "ok"}));
    BOOST_CHECK(tokenize("rock 'n' roll, 'quoted'") == (T{"rock", "'", "n", "'", "roll", ",", "'", "quoted", "'"}));
    BOOST_CHECK(tokenize("Café\xC2\x85next\tword\x08 end") == (T{"café", "next", "word", "end"}));
    BOOST_CHECK(tokenize("  ").empty());
}

BOOST_AUTO_TEST_CASE(vocabulary_order_and_cut) {
    std::vector<std::vector<std::string>> docs = {{"b", "a", "c", "a"}, {"c", "d", "a"}, {"e"}};
    Vocabulary vocab = Vocabulary::build(docs, 3);  // a:3, c:2, then b, d, e tie at 1 -> b
    BOOST_REQUIRE_EQUAL(vocab.size(), 5);
    BOOST_CHECK_EQUAL(vocab.word(Vocabulary::kPad), "<pad>");
    BOOST_CHECK_EQUAL(vocab.word(Vocabulary::kUnknown), "<unk>");
    BOOST_CHECK_EQUAL(vocab.id("a"), 2);
    BOOST_CHECK_EQUAL(vocab.id("c"), 3);
    BOOST_CHECK_EQUAL(vocab.id("b"), 4);
    BOOST_CHECK_EQUAL(vocab.id("d"), Vocabulary::kUnknown);
    BOOST_CHECK_EQUAL(vocab.id("zzz"), Vocabulary::kUnknown);
    TAPEGRAD_CHECK_ERROR(vocab.word(5), "id 5 is outside [0, 5)");

    std::vector<std::string> tokens = {"a", "b", "c", "d", "e"};
    BOOST_CHECK(encode(tokens, vocab, 3) == (std::vector<int64_t>{2, 4, 3}));
    BOOST_CHECK(encode(tokens, vocab, 3, Truncation::KeepLast) == (std::vector<int64_t>{3, 1, 1}));
    BOOST_CHECK(encode(tokens, vocab, 10) == (std::vector<int64_t>{2, 4, 3, 1, 1}));
    TAPEGRAD_CHECK_ERROR(encode(tokens, vocab, 0), "max_length is 0");
}

// A run's vocabulary saved beside its checkpoint reads back with the same ids; a file that is not
// one is refused naming the line.
BOOST_AUTO_TEST_CASE(vocabulary_saves_and_loads) {
    TempDir dir("vocab");
    const Vocabulary vocab = Vocabulary::build({tokenize("Don't miss it: a film, a fine film!")}, 10);
    const std::string path = (dir.path / "vocab.txt").string();
    vocab.save(path);
    const Vocabulary loaded = Vocabulary::load(path);
    BOOST_REQUIRE_EQUAL(loaded.size(), vocab.size());
    for (int64_t id = 0; id < vocab.size(); ++id) BOOST_CHECK_EQUAL(loaded.word(id), vocab.word(id));
    BOOST_CHECK_EQUAL(loaded.id("film"), vocab.id("film"));
    BOOST_CHECK_EQUAL(loaded.id("unseen"), Vocabulary::kUnknown);

    auto write = [&](const std::string& text) {
        std::ofstream(path, std::ios::binary) << text;
        return path;
    };
    TAPEGRAD_CHECK_ERROR(Vocabulary::load(write("label\ttext\n")), "line 1", "expected '<pad>'");
    TAPEGRAD_CHECK_ERROR(Vocabulary::load(write("<pad>\n<unk>\nfilm\n\n")), "line 4 is empty");
    TAPEGRAD_CHECK_ERROR(Vocabulary::load(write("<pad>\n<unk>\nfilm\na\nfilm\n")), "line 5 repeats 'film' (line 3)");
    TAPEGRAD_CHECK_ERROR(Vocabulary::load(write("<pad>\n")), "ends before its line 2");
    TAPEGRAD_CHECK_ERROR(Vocabulary::load((dir.path / "absent.txt").string()), "cannot read", "absent.txt");
    // The empty-document rule of training and --predict: one <unk>.
    ImdbConfig config;
    BOOST_CHECK(encode_document({}, vocab, config) == std::vector<int64_t>{Vocabulary::kUnknown});
}

BOOST_AUTO_TEST_CASE(read_tsv_and_its_errors) {
    TempDir dir("read");
    write_tsv_dataset(dir.path);
    std::vector<Review> train = read_reviews_tsv((dir.path / "train.tsv.gz").string());
    BOOST_REQUIRE_EQUAL(train.size(), 10u);
    for (size_t i = 0; i < train.size(); ++i) {
        BOOST_CHECK_EQUAL(train[i].text, fixture_train()[i].text);  // the leading quote is not CSV quoting
        BOOST_CHECK_EQUAL(train[i].label, fixture_train()[i].label);
    }
    write_gzip(dir.path / "bad_header.tsv.gz", "text\tlabel\n0\tx\n");
    TAPEGRAD_CHECK_ERROR(read_reviews_tsv((dir.path / "bad_header.tsv.gz").string()), "line 1", "label\\ttext");
    write_gzip(dir.path / "bad_label.tsv.gz", "label\ttext\n0\tfine\n-1\tunlabelled\n");
    TAPEGRAD_CHECK_ERROR(read_reviews_tsv((dir.path / "bad_label.tsv.gz").string()), "line 3", "label 0 or 1");
    TAPEGRAD_CHECK_ERROR(read_reviews_tsv((dir.path / "absent.tsv.gz").string()), "cannot open", "absent.tsv.gz");
}

namespace {
std::string read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_bytes(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// The gzip bytes of `content`, made with zlib's gz* writer.
std::string gzip_bytes(const TempDir& dir, const std::string& content) {
    write_gzip(dir.path / "scratch.gz", content);
    return read_bytes(dir.path / "scratch.gz");
}
}  // namespace

BOOST_AUTO_TEST_CASE(read_tsv_refuses_truncated_gzip) {
    TempDir dir("truncated");
    std::string tsv = as_tsv(fixture_train()), gz = gzip_bytes(dir, tsv);
    const std::string path = (dir.path / "cut.tsv.gz").string();
    // Cut at half (mid-text), without the 8-byte CRC/length trailer, and within the trailer.
    for (size_t keep : {gz.size() / 2, gz.size() - 8, gz.size() - 3, size_t(0)}) {
        write_bytes(path, gz.substr(0, keep));
        TAPEGRAD_CHECK_ERROR(read_reviews_tsv(path), path.c_str(), "truncated");
    }
    write_bytes(path, gz);
    BOOST_CHECK_EQUAL(read_reviews_tsv(path).size(), 10u);
}

BOOST_AUTO_TEST_CASE(read_tsv_refuses_a_crc_or_length_mismatch) {
    TempDir dir("crc");
    std::string gz = gzip_bytes(dir, as_tsv(fixture_train()));
    const std::string path = (dir.path / "crc.tsv.gz").string();
    std::string bad = gz;
    bad[bad.size() - 8] ^= 0x01;  // the trailer: CRC-32 (4 bytes), then the length mod 2^32 (4 bytes)
    write_bytes(path, bad);
    TAPEGRAD_CHECK_ERROR(read_reviews_tsv(path), path.c_str(), "CRC mismatch");
    bad = gz;
    bad[bad.size() - 1] ^= 0x01;
    write_bytes(path, bad);
    TAPEGRAD_CHECK_ERROR(read_reviews_tsv(path), path.c_str(), "length mismatch");
}

BOOST_AUTO_TEST_CASE(read_tsv_reads_every_member_and_refuses_what_is_not_gzip) {
    TempDir dir("members");
    std::string tsv = as_tsv(fixture_train());
    size_t half = tsv.find('\n', tsv.size() / 2) + 1;
    const std::string path = (dir.path / "data.tsv.gz").string();
    write_bytes(path, gzip_bytes(dir, tsv.substr(0, half)) + gzip_bytes(dir, tsv.substr(half)));  // as `cat a.gz b.gz`
    BOOST_CHECK_EQUAL(read_reviews_tsv(path).size(), 10u);

    write_bytes(path, gzip_bytes(dir, tsv) + "trailing junk");
    TAPEGRAD_CHECK_ERROR(read_reviews_tsv(path), path.c_str(), "not valid gzip");
    write_bytes(path, tsv);  // plain text: zlib's gzread would pass it through
    TAPEGRAD_CHECK_ERROR(read_reviews_tsv(path), path.c_str(), "not valid gzip");
    const std::string folder = dir.path.string();
    TAPEGRAD_CHECK_ERROR(read_reviews_tsv(folder), folder.c_str(), "cannot read");
}

BOOST_AUTO_TEST_CASE(read_tsv_caps_the_decompressed_size) {
    TempDir dir("bomb");
    std::string tsv = "label\ttext\n1\t" + std::string(1 << 20, 'a') + "\n";  // 1 MB of text, about 1 KB of gzip
    const std::string path = (dir.path / "train.tsv.gz").string();
    write_gzip(path, tsv);
    BOOST_CHECK_LT(fs::file_size(path), 10000u);
    TAPEGRAD_CHECK_ERROR(read_reviews_tsv(path, 100000), path.c_str(), "more than 100000 bytes",
                         "max_file_bytes");
    BOOST_CHECK_EQUAL(read_reviews_tsv(path, tsv.size()).size(), 1u);  // exactly at the limit is fine

    write_gzip(dir.path / "test.tsv.gz", as_tsv(fixture_test()));
    ImdbConfig config;
    config.data_dir = dir.path.string();
    config.max_file_bytes = 100000;
    TAPEGRAD_CHECK_ERROR(load_imdb(config), path.c_str(), "more than 100000 bytes");
}

BOOST_AUTO_TEST_CASE(read_folder_refuses_bad_names_and_big_files) {
    TempDir dir("folder_errors");
    write_folder_dataset(dir.path);
    fs::path neg = dir.path / "aclImdb" / "train" / "neg", split = dir.path / "aclImdb" / "train";
    TAPEGRAD_CHECK_ERROR(read_acl_imdb_split(split.string(), 10), "more than 10 bytes");  // every review is longer
    for (const char* name : {"abc_1.txt", "7.txt", "99999999999999999999_1.txt", "3_x.txt"}) {
        const std::string file = (neg / name).string();
        std::ofstream(file) << "fine text";
        TAPEGRAD_CHECK_ERROR(read_acl_imdb_split(split.string()), file.c_str(), "{id}_{rating}.txt");
        fs::remove(file);
    }
    const std::string folder = (neg / "5_1.txt").string();
    fs::create_directory(folder);  // a folder that looks like a review
    TAPEGRAD_CHECK_ERROR(read_acl_imdb_split(split.string()), folder.c_str(), "cannot read");
}

BOOST_AUTO_TEST_CASE(load_tsv_split_vocabulary_truncation) {
    TempDir dir("load");
    write_tsv_dataset(dir.path);
    ImdbConfig config;
    config.data_dir = dir.path.string();
    config.validation_fraction = 0.3;
    config.max_length = 6;
    config.seed = 4;
    ImdbDataset data = load_imdb(config);
    BOOST_CHECK_EQUAL(data.train.size(), 7u);
    BOOST_CHECK_EQUAL(data.validation.size(), 3u);
    BOOST_CHECK_EQUAL(data.test.size(), 4u);

    // Each training review's own word is in the vocabulary; no held-out or test word is.
    std::set<std::string> own_words_in_vocab;
    for (int i = 0; i < 10; ++i)
        if (data.vocab.id("trainword" + std::to_string(i)) != Vocabulary::kUnknown)
            own_words_in_vocab.insert("trainword" + std::to_string(i));
    BOOST_CHECK_EQUAL(own_words_in_vocab.size(), 7u);
    BOOST_CHECK_EQUAL(data.vocab.id("testonly"), Vocabulary::kUnknown);
    BOOST_CHECK_EQUAL(data.vocab.word(2), "very");  // the most frequent token: 1..10 per review, >= 28 in all

    // KeepFirst: the first 6 tokens: " movie " number trainword<i> was.
    std::set<std::string> seen;
    for (const auto* split : {&data.train, &data.validation}) {
        for (const EncodedReview& r : *split) {
            BOOST_REQUIRE_EQUAL(r.tokens.size(), 6u);
            BOOST_CHECK_EQUAL(data.vocab.word(r.tokens[1]), "movie");
            BOOST_CHECK_EQUAL(data.vocab.word(r.tokens[5]), "was");
            std::string own = data.vocab.word(r.tokens[4]);
            seen.insert(split == &data.train ? own : "held-out");
            BOOST_CHECK_EQUAL(own == "<unk>", split == &data.validation);
        }
    }
    BOOST_CHECK_EQUAL(seen.size(), 8u);  // 7 distinct own words and the held-out marker

    // Another seed holds out other reviews; the same seed the same ones.
    config.seed = 5;
    ImdbDataset other = load_imdb(config);
    config.seed = 4;
    ImdbDataset again = load_imdb(config);
    auto labels_and_tokens = [](const std::vector<EncodedReview>& v) {
        std::vector<std::vector<int64_t>> out;
        for (const EncodedReview& r : v) out.push_back(r.tokens), out.back().push_back(r.label);
        return out;
    };
    BOOST_CHECK(labels_and_tokens(again.validation) == labels_and_tokens(data.validation));
    BOOST_CHECK(data.vocab.id("trainword0") != other.vocab.id("trainword0") ||
                data.vocab.id("trainword5") != other.vocab.id("trainword5") ||
                data.vocab.id("trainword9") != other.vocab.id("trainword9"));

    // KeepLast keeps the end: "... it ." for every training review.
    config.truncation = Truncation::KeepLast;
    config.max_length = 2;
    for (const EncodedReview& r : load_imdb(config).train) {
        BOOST_CHECK_EQUAL(data.vocab.word(r.tokens[0]), "it");
        BOOST_CHECK_EQUAL(data.vocab.word(r.tokens[1]), ".");
    }
    config.validation_fraction = 1.0;
    TAPEGRAD_CHECK_ERROR(load_imdb(config), "validation_fraction is 1");
}

BOOST_AUTO_TEST_CASE(folder_layout_matches_tsv) {
    TempDir tsv_dir("tsv"), folder_dir("folder");
    write_tsv_dataset(tsv_dir.path);
    write_folder_dataset(folder_dir.path);
    std::vector<Review> from_folder = read_acl_imdb_split((folder_dir.path / "aclImdb" / "train").string());
    BOOST_REQUIRE_EQUAL(from_folder.size(), 10u);
    BOOST_CHECK_EQUAL(from_folder[0].label, 0);  // negatives first, then positives, by numeric id
    BOOST_CHECK_EQUAL(from_folder[9].label, 1);
    BOOST_CHECK_EQUAL(from_folder[1].text, fixture_train()[2].text);  // id 1 = the second negative
    BOOST_CHECK_EQUAL(from_folder[4].text, fixture_train()[4].text);  // id 10 (written for the third) sorts last

    ImdbConfig config;
    config.validation_fraction = 0.0;  // the layouts list reviews in different orders
    config.data_dir = tsv_dir.path.string();
    ImdbDataset a = load_imdb(config);
    for (const fs::path& root : {folder_dir.path, folder_dir.path / "aclImdb"}) {
        config.data_dir = root.string();
        ImdbDataset b = load_imdb(config);
        BOOST_CHECK_EQUAL(b.vocab.size(), a.vocab.size());
        BOOST_CHECK_EQUAL(b.train.size(), a.train.size());
        BOOST_CHECK_EQUAL(b.test.size(), 4u);
        std::multiset<std::vector<int64_t>> docs_a, docs_b;  // the same documents (order differs)
        for (const EncodedReview& r : a.test) docs_a.insert(r.tokens);
        for (const EncodedReview& r : b.test) docs_b.insert(r.tokens);
        BOOST_CHECK(docs_a == docs_b);
    }
}

BOOST_AUTO_TEST_CASE(missing_data_says_where_to_get_it) {
    ImdbConfig config;
    config.data_dir = "/nonexistent/imdb_folder";
    TAPEGRAD_CHECK_ERROR(load_imdb(config), "/nonexistent/imdb_folder", "aclImdb_v1.tar.gz",
                         "https://ai.stanford.edu/~amaas/data/sentiment/", "--data-dir", "TAPEGRAD_IMDB_DIR");
    TempDir empty("empty");
    config.data_dir = empty.path.string();
    TAPEGRAD_CHECK_ERROR(load_imdb(config), "no IMDB data in", "train.tsv.gz");
}

BOOST_AUTO_TEST_CASE(load_imdb_names_a_folder_it_cannot_look_at) {
    ImdbConfig config;
    config.data_dir = std::string(300, 'x');  // a name longer than the file system allows: std::filesystem would throw
    TAPEGRAD_CHECK_ERROR(load_imdb(config), "no IMDB data in", config.data_dir.c_str());
}

BOOST_AUTO_TEST_CASE(text_batch_padding) {
    std::vector<EncodedReview> reviews = {{{5, 6, 7}, 1}, {{8}, 0}, {{9, 10}, 1}};
    TextBatch batch = make_text_batch(reviews, {1, 0});
    BOOST_CHECK(batch.tokens.shape() == (Shape{2, 3}));
    BOOST_CHECK(batch.tokens.to_vector<int64_t>() == (std::vector<int64_t>{8, 0, 0, 5, 6, 7}));
    BOOST_CHECK(batch.lengths.to_vector<int64_t>() == (std::vector<int64_t>{1, 3}));
    BOOST_CHECK(batch.labels.to_vector<int64_t>() == (std::vector<int64_t>{0, 1}));
    TAPEGRAD_CHECK_ERROR(make_text_batch(reviews, {3}), "index 3 is outside [0, 3)");
}

BOOST_AUTO_TEST_CASE(bucketed_batches_cover_and_reduce_padding) {
    std::vector<EncodedReview> reviews;
    Generator lengths_gen(1);
    for (int i = 0; i < 1000; ++i) {
        Tensor u = Tensor::uniform({1}, 1.0, 400.0, lengths_gen, DType::Float64);
        reviews.push_back({std::vector<int64_t>(size_t(u.item()), 2), i % 2});
    }
    auto padding = [&](const std::vector<std::vector<int64_t>>& batches) {
        int64_t pad = 0;
        for (const auto& batch : batches) {
            size_t longest = 0;
            for (int64_t i : batch) longest = std::max(longest, reviews[size_t(i)].tokens.size());
            for (int64_t i : batch) pad += int64_t(longest - reviews[size_t(i)].tokens.size());
        }
        return pad;
    };
    Generator gen(7), same(7), other(8);
    std::vector<std::vector<int64_t>> batches = bucketed_batches(reviews, 32, gen, 10);
    std::vector<int64_t> all;
    for (const auto& batch : batches) {
        BOOST_CHECK(batch.size() >= 1 && batch.size() <= 32);
        all.insert(all.end(), batch.begin(), batch.end());
    }
    std::sort(all.begin(), all.end());
    std::vector<int64_t> expected(1000);
    for (int i = 0; i < 1000; ++i) expected[size_t(i)] = i;
    BOOST_CHECK(all == expected);  // every review exactly once per epoch
    BOOST_CHECK(bucketed_batches(reviews, 32, same, 10) == batches);
    BOOST_CHECK(bucketed_batches(reviews, 32, other, 10) != batches);
    // pool_batches = 1 is plain random batching (each batch sorted, no bucketing across batches).
    Generator plain_gen(7);
    int64_t random_padding = padding(bucketed_batches(reviews, 32, plain_gen, 1));
    BOOST_CHECK_LT(padding(batches) * 5, random_padding);
    BOOST_CHECK_GT(batches.front().size() + batches.back().size(), 0u);
    TAPEGRAD_CHECK_ERROR(bucketed_batches(reviews, 0, gen), "batch_size 0");
}
