// Reading a TikTok Ads Manager campaign-by-day CSV export. See the header
// for the columns, aliases and number shapes.
#include "import/tiktok_report.h"

#include <absl/time/civil_time.h>
#include <csv.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <utility>

#include "util/money.h"

namespace billsim::import {

namespace {

constexpr int kColumns = static_cast<int>(Column::kCount);

struct Alias {
  Column column;
  const char* locale;
  const char* header;  // lower case, as Normalize() gives
};

// The headers each column is found under. Several per locale where the
// exports have used more than one.
constexpr Alias kAliases[] = {
    {Column::kCampaignId, "en", "campaign id"},
    {Column::kCampaignId, "es", "id de campaña"},
    {Column::kCampaignId, "es", "id de la campaña"},
    {Column::kCampaignId, "de", "kampagnen-id"},
    {Column::kCampaignId, "fr", "id de la campagne"},
    {Column::kCampaignName, "en", "campaign name"},
    {Column::kCampaignName, "es", "nombre de la campaña"},
    {Column::kCampaignName, "de", "kampagnenname"},
    {Column::kCampaignName, "fr", "nom de la campagne"},
    {Column::kDay, "en", "by day"},
    {Column::kDay, "en", "date"},
    {Column::kDay, "en", "day"},
    {Column::kDay, "en", "stat_time_day"},
    {Column::kDay, "es", "por día"},
    {Column::kDay, "es", "fecha"},
    {Column::kDay, "de", "nach tag"},
    {Column::kDay, "de", "datum"},
    {Column::kDay, "fr", "par jour"},
    {Column::kCost, "en", "cost"},
    {Column::kCost, "en", "spend"},
    {Column::kCost, "es", "coste"},
    {Column::kCost, "es", "costo"},
    {Column::kCost, "es", "gasto"},
    {Column::kCost, "de", "kosten"},
    {Column::kCost, "fr", "coût"},
    {Column::kCost, "fr", "dépenses"},
    {Column::kImpressions, "en", "impressions"},
    {Column::kImpressions, "es", "impresiones"},
    {Column::kImpressions, "de", "impressionen"},
    {Column::kClicks, "en", "clicks (destination)"},
    {Column::kClicks, "en", "clicks"},
    {Column::kClicks, "es", "clics (destino)"},
    {Column::kClicks, "es", "clics"},
    {Column::kClicks, "de", "klicks (ziel)"},
    {Column::kClicks, "de", "klicks"},
    {Column::kClicks, "fr", "clics (destination)"},
    {Column::kViews2s, "en", "2-second video views"},
    {Column::kViews2s, "es", "reproducciones de vídeo de 2 segundos"},
    {Column::kViews2s, "de", "2-sekunden-videoaufrufe"},
    {Column::kViews2s, "fr", "vues de vidéo de 2 secondes"},
    {Column::kViews6s, "en", "6-second video views"},
    {Column::kViews6s, "es", "reproducciones de vídeo de 6 segundos"},
    {Column::kViews6s, "de", "6-sekunden-videoaufrufe"},
    {Column::kViews6s, "fr", "vues de vidéo de 6 secondes"},
    {Column::kCurrency, "en", "currency"},
    {Column::kCurrency, "es", "moneda"},
    {Column::kCurrency, "de", "währung"},
    {Column::kCurrency, "fr", "devise"},
};

// The first cell of the report's total row, in each locale.
constexpr const char* kTotalWords[] = {"total", "gesamt", "summe", "totale"};

constexpr const char* kColumnNames[kColumns] = {
    "Campaign ID", "Campaign name", "By Day", "Cost", "Impressions",
    "Clicks (destination)", "2-second video views", "6-second video views", "Currency"};

// Spaces an export may put inside or around a number: ASCII, no-break
// (U+00A0) and narrow no-break (U+202F), as UTF-8.
size_t SpaceAt(std::string_view s, size_t i) {
  if (s[i] == ' ' || s[i] == '\t') return 1;
  if (s.substr(i, 2) == "\xC2\xA0") return 2;
  if (s.substr(i, 3) == "\xE2\x80\xAF") return 3;
  return 0;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && SpaceAt(s, b) > 0) b += SpaceAt(s, b);
  while (e > b) {
    if (s[e - 1] == ' ' || s[e - 1] == '\t') { --e; continue; }
    if (e - b >= 2 && s.substr(e - 2, 2) == "\xC2\xA0") { e -= 2; continue; }
    if (e - b >= 3 && s.substr(e - 3, 3) == "\xE2\x80\xAF") { e -= 3; continue; }
    break;
  }
  return std::string(s.substr(b, e - b));
}

std::string Normalize(std::string_view header) {
  std::string s = Trim(header);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Single spaces only ("By  Day" is "by day").
  s.erase(std::unique(s.begin(), s.end(), [](char a, char b) { return a == ' ' && b == ' '; }),
          s.end());
  return s;
}

// Currency symbols an amount may carry before or after it (UTF-8).
constexpr const char* kCurrencySymbols[] = {"US$", "R$", "C$", "A$", "$", "€", "£", "¥", "₹",
                                            "₩", "₫", "₺", "₱", "฿", "zł", "kr"};

// Drops spaces, a currency symbol or an ISO 4217 code (three capitals) at
// either end.
std::string StripAmount(std::string_view cell) {
  std::string s;
  for (size_t i = 0; i < cell.size();) {
    const size_t sp = SpaceAt(cell, i);
    if (sp > 0) { i += sp; continue; }
    s.push_back(cell[i++]);
  }
  auto strip_end = [&](bool front) {
    for (const char* sym : kCurrencySymbols) {
      const std::string_view v(sym);
      if (s.size() > v.size() && (front ? s.compare(0, v.size(), v) == 0
                                        : s.compare(s.size() - v.size(), v.size(), v) == 0)) {
        s.erase(front ? 0 : s.size() - v.size(), v.size());
        return;
      }
    }
    if (s.size() > 3) {
      const size_t at = front ? 0 : s.size() - 3;
      if (std::all_of(s.begin() + at, s.begin() + at + 3,
                      [](char c) { return c >= 'A' && c <= 'Z'; })) {
        s.erase(at, 3);
      }
    }
  };
  // A minus sign may come before the symbol ("-$1.00"): refused later.
  strip_end(true);
  strip_end(false);
  return s;
}

bool IsDash(const std::string& s) { return s.empty() || s == "-" || s == "--"; }

class Parser {
 public:
  Parser(const std::string& name, Report* out) : out_(out) { out_->name = name; }

  Status Run(std::string_view text) {
    if (text.size() > kReportBytesMax) {
      return Status::InvalidArgument(out_->name + ": " + std::to_string(text.size()) +
                                     " bytes: a report holds at most " +
                                     std::to_string(kReportBytesMax) + " bytes");
    }
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
    if (text.empty()) return Status::InvalidArgument(out_->name + ": empty: no header line");
    csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
      return Status::IOError(out_->name + ": out of memory");
    }
    csv_set_delim(&p, Delimiter(text));
    size_t at = 0;
    while (at < text.size() && st_.ok()) {
      size_t nl = text.find('\n', at);
      const size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
      if (csv_parse(&p, text.data() + at, end - at, &Parser::OnField, &Parser::OnRecord, this) !=
              end - at &&
          st_.ok()) {
        st_ = Malformed(csv_strerror(csv_error(&p)));
      }
      at = end;
      ++line_;
    }
    if (st_.ok() && csv_fini(&p, &Parser::OnField, &Parser::OnRecord, this) != 0 && st_.ok()) {
      line_ = std::max(line_ - 1, 1);
      st_ = Malformed(std::string(csv_strerror(csv_error(&p))) + " (a quote left open?)");
    }
    csv_free(&p);
    if (!st_.ok()) return st_;
    if (!header_done_) return Status::InvalidArgument(out_->name + ": no header line");
    if (out_->rows.empty()) {
      return Status::InvalidArgument(out_->name + ": no campaign-day rows under the header");
    }
    return Status::Ok();
  }

 private:
  static unsigned char Delimiter(std::string_view text) {
    const std::string_view head = text.substr(0, text.find('\n'));
    const auto n = [&](char c) { return std::count(head.begin(), head.end(), c); };
    const long comma = n(','), semi = n(';'), tab = n('\t');
    if (semi > comma && semi >= tab) return ';';
    if (tab > comma && tab > semi) return '\t';
    return ',';
  }

  static void OnField(void* s, size_t len, void* self) {
    auto* p = static_cast<Parser*>(self);
    if (!p->st_.ok()) return;
    if (p->cells_.empty()) p->record_line_ = p->line_;
    if (len > kReportCellBytesMax) {
      p->st_ = p->Malformed("a cell of " + std::to_string(len) + " bytes (at most " +
                            std::to_string(kReportCellBytesMax) + ")");
      return;
    }
    if (p->cells_.size() >= kReportColumnsMax) {
      p->st_ = p->Malformed("more than " + std::to_string(kReportColumnsMax) + " cells in a row");
      return;
    }
    p->cells_.emplace_back(static_cast<const char*>(s), len);
  }

  static void OnRecord(int, void* self) {
    auto* p = static_cast<Parser*>(self);
    if (p->st_.ok()) p->st_ = p->header_done_ ? p->Row() : p->Header();
    p->cells_.clear();
  }

  Status Malformed(const std::string& why) const {
    return Status::InvalidArgument(out_->name + ":" + std::to_string(line_) + ": column " +
                                   std::to_string(cells_.size() + 1) + ": malformed CSV: " + why);
  }

  Status Header() {
    header_done_ = true;
    header_ = cells_;
    std::string locale;
    for (size_t i = 0; i < cells_.size(); ++i) {
      std::string h = Normalize(cells_[i]);
      const Alias* found = Find(h);
      // "Cost (USD)": the currency in parentheses after the name.
      if (found == nullptr && h.size() > 6 && h.back() == ')') {
        const size_t open = h.rfind(" (");
        if (open != std::string::npos) found = Find(h.substr(0, open));
      }
      if (found == nullptr) continue;
      int& col = out_->columns[static_cast<int>(found->column)];
      if (col != 0) {
        return Status::InvalidArgument(Where(i) + ": a second " + kColumnNames[static_cast<int>(found->column)] +
                                       " column (the first is column " + std::to_string(col) + ")");
      }
      col = static_cast<int>(i) + 1;
      if (found->column == Column::kCost || locale.empty()) locale = found->locale;
    }
    out_->locale = locale.empty() ? "en" : locale;
    decimal_ = out_->locale == "en" ? '.' : ',';
    for (Column c : {Column::kCampaignId, Column::kDay, Column::kCost, Column::kImpressions}) {
      if (out_->columns[static_cast<int>(c)] != 0) continue;
      std::string looked;
      for (const Alias& a : kAliases) {
        if (a.column != c) continue;
        looked += looked.empty() ? "\"" : ", \"";
        looked += a.header;
        looked += "\"";
      }
      return Status::InvalidArgument(out_->name + ":" + std::to_string(record_line_) + ": no " +
                                     kColumnNames[static_cast<int>(c)] +
                                     " column (looked for " + looked + ", in any case)");
    }
    return Status::Ok();
  }

  static const Alias* Find(const std::string& h) {
    for (const Alias& a : kAliases) {
      if (h == a.header) return &a;
    }
    return nullptr;
  }

  std::string Where(size_t index) const {
    std::string s = out_->name + ":" + std::to_string(record_line_) + ": column " +
                    std::to_string(index + 1);
    if (index < header_.size()) s += " (" + Trim(header_[index]) + ")";
    return s;
  }

  const std::string& Cell(Column c) const {
    static const std::string kEmpty;
    const int col = out_->columns[static_cast<int>(c)];
    return col == 0 || static_cast<size_t>(col) > cells_.size() ? kEmpty : cells_[col - 1];
  }
  size_t Index(Column c) const { return static_cast<size_t>(out_->columns[static_cast<int>(c)] - 1); }

  Status Row() {
    const std::string id = Trim(Cell(Column::kCampaignId));
    if (id.empty()) {
      std::string first = cells_.empty() ? "" : Normalize(cells_[0]);
      for (const char* w : kTotalWords) {
        if (first.compare(0, std::char_traits<char>::length(w), w) == 0) return Status::Ok();
      }
      if (std::all_of(cells_.begin(), cells_.end(), [](const std::string& c) { return Trim(c).empty(); })) {
        return Status::Ok();  // a row of empty cells (",,,,")
      }
      return Status::InvalidArgument(Where(Index(Column::kCampaignId)) +
                                     ": empty (a campaign-day row needs its campaign's id)");
    }
    for (size_t i = header_.size(); i < cells_.size(); ++i) {
      if (!Trim(cells_[i]).empty()) {
        return Status::InvalidArgument(Where(i) + ": a cell beyond the header's " +
                                       std::to_string(header_.size()) + " columns");
      }
    }
    if (out_->rows.size() >= kReportRowsMax) {
      return Status::InvalidArgument(out_->name + ":" + std::to_string(record_line_) +
                                     ": more than " + std::to_string(kReportRowsMax) +
                                     " rows (split the report)");
    }
    ReportRow r;
    r.line = record_line_;
    r.campaign_id = id;
    r.campaign_name = Trim(Cell(Column::kCampaignName));
    r.currency = Trim(Cell(Column::kCurrency));
    Status st = Day(&r.day);
    if (st.ok()) st = Amount(&r.cost_micros);
    if (st.ok()) st = Count(Column::kImpressions, &r.impressions);
    if (st.ok()) st = Count(Column::kClicks, &r.clicks);
    if (st.ok()) st = Count(Column::kViews2s, &r.views_2s);
    if (st.ok()) st = Count(Column::kViews6s, &r.views_6s);
    if (!st.ok()) return st;
    if (!out_->rows.empty() && out_->columns[static_cast<int>(Column::kCurrency)] != 0 &&
        r.currency != out_->rows.front().currency) {
      return Status::InvalidArgument(Where(Index(Column::kCurrency)) + ": \"" + r.currency +
                                     "\", but line " + std::to_string(out_->rows.front().line) +
                                     " is in \"" + out_->rows.front().currency +
                                     "\" (one account, one currency)");
    }
    if (!AddWithin(total_, r.cost_micros, kAccountFundsMaxMicros, &total_)) {
      return Status::InvalidArgument(Where(Index(Column::kCost)) +
                                     ": the report's cost passes " +
                                     FormatMicros(kAccountFundsMaxMicros) +
                                     " by this row, more than an account can hold (R11)");
    }
    const auto [it, fresh] = seen_.emplace(std::make_pair(r.campaign_id, r.day), r.line);
    if (!fresh) {
      return Status::InvalidArgument(Where(Index(Column::kDay)) + ": campaign " + r.campaign_id +
                                     " on " + FormatDay(r.day) + " again (first on line " +
                                     std::to_string(it->second) + ")");
    }
    out_->rows.push_back(std::move(r));
    return Status::Ok();
  }

  Status Day(int64_t* out) const {
    std::string s = Trim(Cell(Column::kDay));
    const std::string where = Where(Index(Column::kDay));
    // "2026-03-05 00:00:00": the day's start, as the API's stat_time_day.
    if (s.size() == 19 && s.compare(10, 9, " 00:00:00") == 0) s.resize(10);
    int y = 0, m = 0, d = 0;
    const auto digits = [&](size_t from, size_t n, int* v) {
      *v = 0;
      for (size_t i = from; i < from + n; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
        *v = *v * 10 + (s[i] - '0');
      }
      return true;
    };
    bool shaped = false;
    if (s.size() == 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4]) {
      shaped = digits(0, 4, &y) && digits(5, 2, &m) && digits(8, 2, &d);
    } else if (s.size() == 10 && s[2] == '.' && s[5] == '.') {
      shaped = digits(0, 2, &d) && digits(3, 2, &m) && digits(6, 4, &y);
    }
    const absl::CivilDay day(y, m, d);
    if (!shaped || day.year() != y || day.month() != m || day.day() != d || y < 1970 || y > 2199) {
      return Status::InvalidArgument(where + ": \"" + s +
                                     "\" is not a day (2026-03-05, 2026/03/05 or 05.03.2026, "
                                     "1970..2199)");
    }
    *out = day - absl::CivilDay(1970, 1, 1);
    return Status::Ok();
  }

  Status Amount(int64_t* out) const {
    const std::string cell = Trim(Cell(Column::kCost));
    const std::string where = Where(Index(Column::kCost));
    std::string s = StripAmount(cell);
    if (IsDash(s)) {
      *out = 0;
      return Status::Ok();
    }
    const char group = decimal_ == '.' ? ',' : '.';
    std::string plain;
    bool ok = !s.empty() && s[0] != '-';
    int seps = 0;
    for (size_t i = 0; ok && i < s.size(); ++i) {
      const char c = s[i];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        plain.push_back(c);
      } else if ((c == group || c == '\'') && seps == 0 && i > 0 && i + 1 < s.size()) {
        // a thousands separator: between digits, before the decimal point
      } else if (c == decimal_ && seps++ == 0) {
        plain.push_back('.');
      } else {
        ok = false;
      }
    }
    int64_t micros = 0;
    if (!ok || !ParseMicros(plain, &micros)) {
      return Status::InvalidArgument(
          where + ": \"" + cell + "\" is not an amount (" +
          (decimal_ == '.' ? "1,234.56" : "1.234,56") +
          " in this locale; at most six decimal places; a currency symbol may come first or "
          "last; not negative)");
    }
    *out = micros;
    return Status::Ok();
  }

  Status Count(Column c, int64_t* out) const {
    const std::string cell = Trim(Cell(c));
    std::string s;
    for (size_t i = 0; i < cell.size();) {
      const size_t sp = SpaceAt(cell, i);
      if (sp > 0) { i += sp; continue; }
      s.push_back(cell[i++]);
    }
    if (IsDash(s)) {
      *out = 0;
      return Status::Ok();
    }
    const char group = decimal_ == '.' ? ',' : '.';
    int64_t v = 0;
    bool ok = std::isdigit(static_cast<unsigned char>(s[0])) &&
              std::isdigit(static_cast<unsigned char>(s.back()));
    for (size_t i = 0; ok && i < s.size(); ++i) {
      if (s[i] == group || s[i] == '\'') continue;
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) { ok = false; break; }
      v = v * 10 + (s[i] - '0');
      if (v > kCountMax) ok = false;
    }
    if (!ok) {
      return Status::InvalidArgument(Where(Index(c)) + ": \"" + cell +
                                     "\" is not a whole number from 0 to " +
                                     std::to_string(kCountMax));
    }
    *out = v;
    return Status::Ok();
  }

  Report* out_;
  Status st_;
  int line_ = 1;
  int record_line_ = 1;
  bool header_done_ = false;
  char decimal_ = '.';
  int64_t total_ = 0;  // the costs so far, within kAccountFundsMaxMicros
  std::vector<std::string> cells_;
  std::vector<std::string> header_;
  std::map<std::pair<std::string, int64_t>, int> seen_;
};

}  // namespace

const char* ColumnName(Column c) { return kColumnNames[static_cast<int>(c)]; }

std::string FormatDay(int64_t day) {
  const absl::CivilDay d = absl::CivilDay(1970, 1, 1) + day;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", static_cast<int>(d.year()), d.month(), d.day());
  return buf;
}

std::string Report::Where(int line, Column column) const {
  const int col = columns[static_cast<int>(column)];
  return name + ":" + std::to_string(line) +
         (col == 0 ? std::string() : ": column " + std::to_string(col)) + " (" +
         ColumnName(column) + ")";
}

Status ParseReport(std::string_view text, const std::string& name, Report* out) {
  *out = Report{};
  Parser parser(name, out);
  return parser.Run(text);
}

}  // namespace billsim::import
