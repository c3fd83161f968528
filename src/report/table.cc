#include "report/table.h"

#include <algorithm>

namespace billsim {

namespace {

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

}  // namespace

void Table::Write(std::ostream& out, size_t left) const {
  std::vector<size_t> width(rows_[0].size(), 0);
  for (const auto& r : rows_) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (const auto& r : rows_) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const size_t w = i < width.size() ? width[i] : r[i].size();
      const std::string pad(w - r[i].size(), ' ');
      const bool last = i + 1 == r.size();
      line += (i < left || last) ? r[i] + (last ? "" : pad) : pad + r[i];
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

void WriteCsvRow(const std::vector<std::string>& row, std::ostream& out) {
  for (size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << Csv(row[i]);
  out << "\n";
}

void Table::WriteCsv(std::ostream& out) const {
  for (const auto& r : rows_) WriteCsvRow(r, out);
}

}  // namespace billsim
