// Table: rows printed as aligned columns for people, or as CSV for
// programs. The first `left` columns and the last align left; the others
// (numbers) align right.
#ifndef BILLSIM_REPORT_TABLE_H_
#define BILLSIM_REPORT_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace billsim {

class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Write(std::ostream& out, size_t left) const;
  void WriteCsv(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// One CSV line (fields quoted where they need it), for rows written as they
// come rather than held in a Table.
void WriteCsvRow(const std::vector<std::string>& row, std::ostream& out);

}  // namespace billsim

#endif  // BILLSIM_REPORT_TABLE_H_
