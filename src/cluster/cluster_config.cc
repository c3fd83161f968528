#include "cluster/cluster_config.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "cluster/partition.h"

namespace billsim::cluster {

namespace {

constexpr const char* kBucket = "billsim_cluster";
constexpr const char* kKey = "config";

std::string Encode(const ClusterConfig& c) {
  return nlohmann::json{{"format", 1},
                        {"partitions", c.partitions},
                        {"replicas", c.replicas},
                        {"hash", "xxh64-seed0"}}
      .dump();
}

Status Decode(const std::string& text, ClusterConfig* c) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& why) {
    return Status::Corruption("the cluster's config (bucket " + std::string(kBucket) + ", key " +
                              kKey + ") " + why + ": " + text);
  };
  if (!j.is_object()) return bad("is not a JSON object");
  if (!j.contains("format") || j["format"] != 1) return bad("has no format 1");
  if (!j.contains("hash") || j["hash"] != "xxh64-seed0") return bad("names another hash");
  if (!j.contains("partitions") || !j["partitions"].is_number_unsigned()) {
    return bad("has no partitions");
  }
  if (!j.contains("replicas") || !j["replicas"].is_number_unsigned()) {
    return bad("has no replicas");
  }
  const uint64_t p = j["partitions"].get<uint64_t>();
  const uint64_t r = j["replicas"].get<uint64_t>();
  if (p == 0 || p > kMaxPartitions) return bad("has partitions out of range");
  if (r != 1 && r != 3) return bad("has replicas other than 1 or 3");
  c->partitions = static_cast<uint32_t>(p);
  c->replicas = static_cast<uint32_t>(r);
  return Status::Ok();
}

Status OpenBucket(NatsClient* nats, bool create, uint32_t replicas, kvStore** kv) {
  natsStatus s = js_KeyValue(kv, nats->js(), kBucket);
  if (s == NATS_OK) return Status::Ok();
  if (!create) {
    if (s == NATS_NOT_FOUND) {
      return Status::NotFound("no billsim cluster at " + nats->url() +
                              " (no bucket " + kBucket + "): run billsim cluster init");
    }
    return nats->Error(std::string("opening bucket ") + kBucket, s);
  }
  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = kBucket;
  kc.History = 1;
  kc.StorageType = js_FileStorage;
  kc.Replicas = static_cast<int>(replicas);
  s = js_CreateKeyValue(kv, nats->js(), &kc);
  if (s != NATS_OK) return nats->Error(std::string("creating bucket ") + kBucket, s);
  return Status::Ok();
}

Status ReadConfig(NatsClient* nats, kvStore* kv, ClusterConfig* config) {
  kvEntry* e = nullptr;
  const natsStatus s = kvStore_Get(&e, kv, kKey);
  if (s == NATS_NOT_FOUND) {
    return Status::NotFound("no billsim cluster at " + nats->url() + " (bucket " + kBucket +
                            " has no " + kKey + "): run billsim cluster init");
  }
  if (s != NATS_OK) return nats->Error("reading the cluster's config", s);
  const std::string text(static_cast<const char*>(kvEntry_Value(e)),
                         static_cast<size_t>(kvEntry_ValueLen(e)));
  kvEntry_Destroy(e);
  return Decode(text, config);
}

Status AddStream(NatsClient* nats, uint32_t partition, uint32_t replicas) {
  const std::string name = StreamName(partition);
  const std::string subject = BatchSubject(partition);
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = name.c_str();
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Replicas = replicas;
  sc.Duplicates = kDuplicateWindowS * int64_t{1000000000};
  sc.MaxMsgSize = static_cast<int32_t>(kMaxMessageBytes);
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_AddStream(&si, nats->js(), &sc, nullptr, &code);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (s != NATS_OK) return nats->Error("creating stream " + name, s, code);
  return Status::Ok();
}

}  // namespace

Status InitCluster(NatsClient* nats, const ClusterConfig& config) {
  if (config.partitions == 0 || config.partitions > kMaxPartitions) {
    return Status::InvalidArgument("--partitions: " + std::to_string(config.partitions) +
                                   " is out of range (1.." + std::to_string(kMaxPartitions) + ")");
  }
  if (config.replicas != 1 && config.replicas != 3) {
    return Status::InvalidArgument("--replicas: " + std::to_string(config.replicas) +
                                   " is neither 1 nor 3");
  }
  kvStore* kv = nullptr;
  Status st = OpenBucket(nats, /*create=*/true, config.replicas, &kv);
  if (!st.ok()) return st;
  const std::string text = Encode(config);
  uint64_t rev = 0;
  const natsStatus s = kvStore_Create(&rev, kv, kKey, text.data(), static_cast<int>(text.size()));
  if (s != NATS_OK) {
    // Already there: the same shape is a repeat, another one a refusal.
    ClusterConfig existing;
    st = ReadConfig(nats, kv, &existing);
    kvStore_Destroy(kv);
    if (!st.ok()) return st.code() == Status::Code::kNotFound ? nats->Error("writing the cluster's config", s) : st;
    if (existing.partitions != config.partitions || existing.replicas != config.replicas) {
      return Status::InvalidArgument(
          "a cluster already exists at " + nats->url() + " with " +
          std::to_string(existing.partitions) + " partitions and " +
          std::to_string(existing.replicas) + " replicas (asked: " +
          std::to_string(config.partitions) + " and " + std::to_string(config.replicas) +
          "); partitions cannot change under existing data: a new cluster and a replay");
    }
  } else {
    kvStore_Destroy(kv);
  }
  for (uint32_t p = 0; p < config.partitions; ++p) {
    st = AddStream(nats, p, config.replicas);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status LoadCluster(NatsClient* nats, ClusterConfig* config) {
  kvStore* kv = nullptr;
  Status st = OpenBucket(nats, /*create=*/false, 1, &kv);
  if (!st.ok()) return st;
  st = ReadConfig(nats, kv, config);
  kvStore_Destroy(kv);
  return st;
}

}  // namespace billsim::cluster
