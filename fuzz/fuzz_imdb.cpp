// Fuzzes the IMDB reader (data/imdb.h). The first byte picks the layer: even, the rest is the
// .tsv.gz file's bytes as they are (the gzip reader: truncation, CRC, trailing bytes); odd, the
// rest is a TSV that the harness gzips, so that mutations reach the TSV parser (a mutated gzip
// file rarely passes its CRC). The file is both train.tsv.gz and test.tsv.gz of a data folder.
// load_imdb reads it (read_reviews_tsv), tokenizes it, builds a vocabulary, encodes and splits
// it; then the reviews are batched. A tapegrad::Error is the right answer to a bad file; any
// other exception, a crash or a sanitizer report is a finding.
#include "core/error.h"
#include "data/imdb.h"
#include "fuzz/harness.h"

using namespace tapegrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::filesystem::path& dir = fuzz::scratch_dir();
    if (size == 0) return 0;
    const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::string file = data[0] % 2 ? fuzz::gzip(rest) : rest;
    fuzz::write_bytes(dir / "train.tsv.gz", reinterpret_cast<const uint8_t*>(file.data()), file.size());
    if (!std::filesystem::exists(dir / "test.tsv.gz")) std::filesystem::create_symlink("train.tsv.gz", dir / "test.tsv.gz");
    data::ImdbConfig config;
    config.data_dir = dir.string();
    config.vocab_size = 50;
    config.max_length = 16;
    config.validation_fraction = 0.25;
    try {
        data::ImdbDataset dataset = data::load_imdb(config);
        Generator gen(0);
        for (const auto& batch : data::bucketed_batches(dataset.train, 2, gen, 2))
            data::make_text_batch(dataset.train, batch);
    } catch (const Error&) {
    }
    return 0;
}
