// FaultEnv: a simulated disk for the log's tests, after LevelDB's
// FaultInjectionTestEnv. Files live in a real directory (through a base
// Env, the POSIX one by default), so every reader sees what was written, as
// a page cache would; the FaultEnv also remembers, per file, how much of it
// is durable:
//
//   - a file's bytes are durable up to its last successful Sync (of the
//     file or of a SyncHandle of it);
//   - a file created (or renamed into place) is durable by name only after
//     a SyncDir of its directory.
//
// Crash() is the power cut: every file loses what was written after its
// last sync (with `tear`, a random prefix of those bytes survives instead:
// a write torn at a random byte; files whose name ends with
// `written_back` keep all of them: the kernel wrote them back just before),
// files whose name was never made durable disappear, and renames not
// followed by a SyncDir are undone. Until
// Restart(), every mutating operation fails, so a writer still alive
// changes nothing; files opened before the crash stay dead after it.
//
// Faults, each counted from the moment it is set (n = 1: the next one):
// FailWrite (the n-th Append to a file whose name ends with a suffix fails,
// optionally after a random prefix of its bytes reached the file), FailSync
// (the n-th sync of a file, a SyncHandle or a directory fails and makes
// nothing durable), FailIndexWrites (every Append to an ".idx" file fails
// while set), FailRename (the n-th rename fails and changes nothing),
// HaltAfter (the n-th mutating operation and all after it fail: a crash in
// the middle of whatever the writer was doing; Crash() then drops data).
//
// Not modelled: the durability of directories themselves (CreateDir), and
// removals (a removed file stays removed). Syncs are not passed on to the
// base Env: the base directory's own durability does not matter to a
// simulation, and real fdatasyncs would only slow the tests.
//
// Thread-safe: the server's syncer thread syncs while its committer writes.
#ifndef BILLSIM_TESTS_FAULT_ENV_H_
#define BILLSIM_TESTS_FAULT_ENV_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "log/env.h"
#include "util/status.h"

namespace billsim::test_support {

class FaultEnv final : public log::Env {
 public:
  explicit FaultEnv(uint64_t seed, log::Env* base = log::Env::Default())
      : base_(base), rng_(seed) {}

  // --- Faults --------------------------------------------------------------------
  void FailWrite(int nth, const std::string& suffix = "", bool partial = false) {
    std::lock_guard lock(mu_);
    write_fail_in_ = nth;
    write_fail_suffix_ = suffix;
    write_fail_partial_ = partial;
  }
  void FailSync(int nth) {
    std::lock_guard lock(mu_);
    sync_fail_in_ = nth;
  }
  void FailIndexWrites(bool on) {
    std::lock_guard lock(mu_);
    fail_index_writes_ = on;
  }
  void FailRename(int nth) {
    std::lock_guard lock(mu_);
    rename_fail_in_ = nth;
  }
  void HaltAfter(int nth) {
    std::lock_guard lock(mu_);
    halt_in_ = nth;
  }

  // --- Crash ---------------------------------------------------------------------
  Status Crash(bool tear, const std::string& written_back = "") {
    std::lock_guard lock(mu_);
    active_ = false;
    ++generation_;
    Status result;
    auto keep = [&](const Status& st) {
      if (result.ok() && !st.ok()) result = st;
    };
    // Renames not made durable by a SyncDir are undone, newest first.
    for (auto it = renames_.rbegin(); it != renames_.rend(); ++it) {
      keep(base_->RenameFile(it->to, it->from));
      if (it->had_old) keep(WriteWhole(it->to, it->old_content));
      files_[it->from] = it->from_state;
      if (it->had_old) {
        files_[it->to] = FileState{it->old_content.size(), it->old_content.size(), true};
      } else {
        files_.erase(it->to);
      }
    }
    for (const auto& [path, f] : files_) {
      if (!f.name_durable) {
        keep(base_->RemoveFile(path));
        continue;
      }
      uint64_t size = f.synced;
      if (!written_back.empty() && path.ends_with(written_back)) {
        size = f.size;
      } else if (tear && f.size > f.synced) {
        size += rng_() % (f.size - f.synced + 1);
      }
      if (size < f.size) keep(base_->TruncateFile(path, size));
    }
    files_.clear();
    renames_.clear();
    return result;
  }
  // Power back on: operations work again (files opened before the crash
  // stay dead).
  void Restart() {
    std::lock_guard lock(mu_);
    active_ = true;
    halt_in_ = 0;
  }

  int syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
  }

  // --- Env -----------------------------------------------------------------------
  Status NewAppendableFile(const std::string& path,
                           std::unique_ptr<log::WritableFile>* out) override {
    std::lock_guard lock(mu_);
    Status st = Mutate(path);
    if (!st.ok()) return st;
    const std::string key = Key(path);
    const bool existed = base_->FileExists(path);
    std::unique_ptr<log::WritableFile> file;
    st = base_->NewAppendableFile(path, &file);
    if (!st.ok()) return st;
    if (!files_.contains(key)) {
      // A file from before the FaultEnv knew it is durable as it is.
      const uint64_t size = file->size();
      files_[key] = FileState{size, existed ? size : 0, existed};
    }
    *out = std::make_unique<File>(this, key, std::move(file), generation_);
    return Status::Ok();
  }
  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<log::RandomAccessFile>* out) override {
    return base_->NewRandomAccessFile(path, out);
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    return base_->GetChildren(dir, names);
  }
  Status CreateDir(const std::string& dir) override {
    std::lock_guard lock(mu_);
    Status st = Mutate(dir);
    return st.ok() ? base_->CreateDir(dir) : st;
  }
  Status RemoveFile(const std::string& path) override {
    std::lock_guard lock(mu_);
    Status st = Mutate(path);
    if (!st.ok()) return st;
    files_.erase(Key(path));
    return base_->RemoveFile(path);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    std::lock_guard lock(mu_);
    Status st = Mutate(from);
    if (!st.ok()) return st;
    if (rename_fail_in_ > 0 && --rename_fail_in_ == 0) {
      return Status::IOError(from + ": rename to " + to + ": injected failure");
    }
    Rename r{Key(from), Key(to), {}, false, {}};
    auto it = files_.find(r.from);
    r.from_state = it != files_.end() ? it->second : FileState{0, 0, true};
    r.had_old = base_->FileExists(to);
    if (r.had_old) {
      st = ReadDurable(r.to, &r.old_content);
      if (!st.ok()) return st;
    }
    st = base_->RenameFile(from, to);
    if (!st.ok()) return st;
    FileState moved = r.from_state;
    if (it == files_.end()) {
      std::unique_ptr<log::RandomAccessFile> f;
      if (base_->NewRandomAccessFile(to, &f).ok()) moved.size = moved.synced = f->size();
    } else {
      files_.erase(it);
    }
    moved.name_durable = false;
    files_[r.to] = moved;
    renames_.push_back(std::move(r));
    return Status::Ok();
  }
  Status TruncateFile(const std::string& path, uint64_t size) override {
    std::lock_guard lock(mu_);
    Status st = Mutate(path);
    if (!st.ok()) return st;
    st = base_->TruncateFile(path, size);  // and fsync: durable at once
    if (!st.ok()) return st;
    auto it = files_.find(Key(path));
    if (it != files_.end()) it->second.size = it->second.synced = size;
    return Status::Ok();
  }
  Status SyncDir(const std::string& dir) override {
    std::lock_guard lock(mu_);
    Status st = CountSync(dir);
    if (!st.ok()) return st;
    const std::string d = DirKey(dir);
    for (auto& [path, f] : files_) {
      if (Parent(path) == d) f.name_durable = true;
    }
    std::erase_if(renames_, [&](const Rename& r) { return Parent(r.to) == d; });
    return Status::Ok();
  }

 private:
  struct FileState {
    uint64_t size = 0;    // bytes in the file, as the page cache holds them
    uint64_t synced = 0;  // of which durable
    bool name_durable = true;
  };
  struct Rename {
    std::string from, to;
    FileState from_state;
    bool had_old = false;
    std::string old_content;  // the durable bytes `to` held before
  };

  class Syncer final : public log::SyncableFile {
   public:
    Syncer(FaultEnv* env, std::string key, uint64_t generation)
        : env_(env), key_(std::move(key)), generation_(generation) {}
    Status Sync() override { return env_->SyncFile(key_, generation_); }

   private:
    FaultEnv* env_;
    std::string key_;
    uint64_t generation_;
  };

  class File final : public log::WritableFile {
   public:
    File(FaultEnv* env, std::string key, std::unique_ptr<log::WritableFile> base,
         uint64_t generation)
        : env_(env), key_(std::move(key)), base_(std::move(base)), generation_(generation) {}
    Status Append(std::string_view a, std::string_view b) override {
      return env_->AppendTo(key_, generation_, base_.get(), a, b);
    }
    Status Sync() override { return env_->SyncFile(key_, generation_); }
    Status Close() override { return base_->Close(); }
    Status NewSyncHandle(std::unique_ptr<log::SyncableFile>* out) override {
      *out = std::make_unique<Syncer>(env_, key_, generation_);
      return Status::Ok();
    }
    uint64_t size() const override { return base_->size(); }

   private:
    FaultEnv* env_;
    std::string key_;
    std::unique_ptr<log::WritableFile> base_;
    uint64_t generation_;
  };

  static std::string Key(const std::string& path) {
    return std::filesystem::path(path).lexically_normal().string();
  }
  static std::string DirKey(const std::string& dir) {
    std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "a/b/" -> "a/b"
    return p.string();
  }
  static std::string Parent(const std::string& key) {
    return std::filesystem::path(key).parent_path().string();
  }

  // REQUIRES: mu_ held. Every mutating operation passes here first.
  Status Mutate(const std::string& path) {
    if (halt_in_ > 0 && --halt_in_ == 0) active_ = false;
    if (!active_) return Status::IOError(path + ": simulated power loss");
    return Status::Ok();
  }
  Status CountSync(const std::string& path) {
    Status st = Mutate(path);
    if (!st.ok()) return st;
    ++syncs_;
    if (sync_fail_in_ > 0 && --sync_fail_in_ == 0) {
      return Status::IOError(path + ": fdatasync: injected failure");
    }
    return Status::Ok();
  }

  Status AppendTo(const std::string& key, uint64_t generation, log::WritableFile* file,
                  std::string_view a, std::string_view b) {
    std::lock_guard lock(mu_);
    if (generation != generation_) {
      return Status::IOError(key + ": write to a file opened before a simulated crash");
    }
    Status st = Mutate(key);
    if (!st.ok()) return st;
    if (fail_index_writes_ && key.ends_with(".idx")) {
      return Status::IOError(key + ": write: injected failure (index)");
    }
    FileState& f = files_[key];
    if (write_fail_in_ > 0 && key.ends_with(write_fail_suffix_) && --write_fail_in_ == 0) {
      if (write_fail_partial_) {
        // Some prefix of the bytes reached the file (a short write, ENOSPC).
        const size_t total = a.size() + b.size();
        const size_t n = total == 0 ? 0 : rng_() % total;
        const std::string_view pa = a.substr(0, std::min(n, a.size()));
        const std::string_view pb = b.substr(0, n - pa.size());
        if (file->Append(pa, pb).ok()) f.size += n;
      }
      return Status::IOError(key + ": write: injected failure");
    }
    st = file->Append(a, b);
    if (st.ok()) f.size += a.size() + b.size();
    return st;
  }

  Status SyncFile(const std::string& key, uint64_t generation) {
    std::lock_guard lock(mu_);
    if (generation != generation_) {
      return Status::IOError(key + ": sync of a file opened before a simulated crash");
    }
    Status st = CountSync(key);
    if (!st.ok()) return st;
    auto it = files_.find(key);
    if (it != files_.end()) it->second.synced = it->second.size;
    return Status::Ok();
  }

  // What of `key` would survive a crash now.
  Status ReadDurable(const std::string& key, std::string* out) {
    std::unique_ptr<log::RandomAccessFile> f;
    Status st = base_->NewRandomAccessFile(key, &f);
    if (!st.ok()) return st;
    uint64_t n = f->size();
    auto it = files_.find(key);
    if (it != files_.end()) n = std::min(n, it->second.synced);
    out->resize(n);
    size_t got = 0;
    st = f->Read(0, n, reinterpret_cast<uint8_t*>(out->data()), &got);
    out->resize(got);
    return st;
  }
  Status WriteWhole(const std::string& path, const std::string& data) {
    (void)base_->RemoveFile(path);
    std::unique_ptr<log::WritableFile> f;
    Status st = base_->NewAppendableFile(path, &f);
    if (st.ok()) st = f->Append(data, {});
    if (st.ok()) st = f->Close();
    return st;
  }

  log::Env* const base_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::map<std::string, FileState> files_;  // by normalised path
  std::vector<Rename> renames_;             // since their directory's last sync
  bool active_ = true;
  uint64_t generation_ = 0;
  int syncs_ = 0;
  int write_fail_in_ = 0;
  std::string write_fail_suffix_;
  bool write_fail_partial_ = false;
  int sync_fail_in_ = 0;
  bool fail_index_writes_ = false;
  int rename_fail_in_ = 0;
  int halt_in_ = 0;
};

}  // namespace billsim::test_support

#endif  // BILLSIM_TESTS_FAULT_ENV_H_
