#include "dot_export.h"

#include <map>
#include <unordered_map>

#include "tape_print.h"

namespace tapegrad {

std::string step_cluster(const std::string& scope) {
    size_t equals = scope.find('=');
    if (equals == std::string::npos) return "";
    size_t end = scope.find('/', equals);
    return scope.substr(0, end);
}

namespace {
std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '&') out += "&amp;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

// An HTML-like table: name and shape, values, and the gradient when there is one.
std::string tensor_label(const std::string& name, const Tensor& t, const char* fill) {
    std::string label = fmt::format("<<table border=\"0\" cellborder=\"1\" cellspacing=\"0\">"
                                    "<tr><td bgcolor=\"{}\"><b>{}</b> {}</td></tr>"
                                    "<tr><td bgcolor=\"{}\">data {}</td></tr>",
                                    fill, escape(name), to_string(t.shape()), fill, value_stats(t));
    if (t.grad().defined())
        label += fmt::format("<tr><td bgcolor=\"#fdd0a2\">grad {}</td></tr>", value_stats(t.grad()));
    return label + "</table>>";
}
}  // namespace

std::string to_dot(const Tape& tape, const DotOptions& options) {
    std::unordered_map<const TensorImpl*, std::string> names;
    for (const auto& [t, name] : options.names) names[&t.impl()] = name;
    auto name_of = [&](const Tensor& t, const std::string& fallback) {
        auto it = names.find(&t.impl());
        return it == names.end() ? fallback : it->second;
    };

    // Node definitions grouped by cluster ("" = top level), edges after all nodes.
    std::map<std::string, std::string> clusters;
    std::string edges;
    std::unordered_map<const TensorImpl*, std::string> leaf_ids;
    const auto& records = tape.records();
    for (size_t r = 0; r < records.size(); ++r) {
        const Record& rec = records[r];
        if (!scope_has_prefix(rec.scope, options.scope_prefix)) continue;
        const std::string cluster = step_cluster(rec.scope);
        // A tensor is named by its record and, inside a step, by its label there: "#62 forget_gate".
        std::string name = "#" + std::to_string(r);
        if (!cluster.empty() && rec.scope.size() > cluster.size()) name += " " + rec.scope.substr(cluster.size() + 1);
        std::string& body = clusters[cluster];
        body += fmt::format("  op{} [shape=ellipse, label=\"#{} {}\"];\n", r, r, rec.op);
        body += fmt::format("  t{} [shape=plaintext, label={}];\n", r,
                            tensor_label(name_of(rec.output, name), rec.output, "#c6dbef"));
        edges += fmt::format("  op{} -> t{};\n", r, r);
        for (const Tensor& x : rec.inputs) {
            std::string id;
            if (!x.is_leaf()) {
                const int64_t source = x.impl().record;
                id = fmt::format("t{}", source);
                const Record& producer_record = records[source];
                if (!scope_has_prefix(producer_record.scope, options.scope_prefix) &&
                    !leaf_ids.count(&x.impl())) {
                    // Produced outside the drawn scope: a dashed stand-in.
                    leaf_ids[&x.impl()] = id;
                    clusters[""] += fmt::format("  {} [shape=box, style=dashed, label=\"#{} {} ({})\"];\n", id,
                                                source, producer_record.op, producer_record.scope);
                }
            } else {
                auto [it, inserted] = leaf_ids.emplace(&x.impl(), fmt::format("leaf{}", leaf_ids.size()));
                id = it->second;
                if (inserted) {
                    const bool parameter = x.requires_grad();
                    clusters[""] += fmt::format("  {} [shape=plaintext, label={}];\n", id,
                                                tensor_label(name_of(x, parameter ? "param" : "const"), x,
                                                             parameter ? "#c7e9c0" : "#e0e0e0"));
                }
            }
            edges += fmt::format("  {} -> op{};\n", id, r);
        }
    }

    std::string dot = "digraph tape {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n";
    int cluster_number = 0;
    for (const auto& [cluster, body] : clusters) {
        if (cluster.empty()) {
            dot += body;
            continue;
        }
        dot += fmt::format("  subgraph cluster_{} {{\n  label=\"{}\";\n  style=rounded;\n{}  }}\n", cluster_number++,
                           escape(cluster), body);
    }
    return dot + edges + "}\n";
}

}  // namespace tapegrad
