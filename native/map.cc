#include "map.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common.h"

namespace eoa {

namespace {

// The kernel's ENOTSUPP (no batch operations for this map type) is not in the user-space headers.
constexpr int kENOTSUPP = 524;

}  // namespace

// Batch lookups, falling back to get_next_key where the kernel or map type has no batch support.
Napi::Value Map::Read(Napi::Env env) {
  const int fd = bpf_map__fd(map_);
  if (fd < 0) throw Napi::Error::New(env, "map " + Name() + " is not loaded");
  const enum bpf_map_type type = bpf_map__type(map_);
  const size_t key_size = bpf_map__key_size(map_);
  const size_t value_size = bpf_map__value_size(map_);
  const size_t max = bpf_map__max_entries(map_);
  const bool per_cpu = IsPerCpu(type);
  if (per_cpu && value_size % 8 != 0) {
    throw Napi::Error::New(env, "map " + Name() + ": per-CPU values must be made of u64 lanes");
  }
  const int ncpu = per_cpu ? libbpf_num_possible_cpus() : 1;
  if (ncpu <= 0) throw BpfError(env, ncpu, "cannot count possible CPUs");
  const size_t stride = per_cpu ? PerCpuStride(value_size, static_cast<size_t>(ncpu)) : value_size;

  keys_.resize(max * key_size);
  raw_.resize(max * stride);
  size_t n = 0;

  bool batched = false;
  if (type != BPF_MAP_TYPE_RINGBUF) {
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    uint64_t in_batch = 0;
    uint64_t out_batch = 0;
    bool first = true;
    int err = 0;
    while (n < max) {
      __u32 count = static_cast<__u32>(max - n);
      err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys_.data() + n * key_size,
                                 raw_.data() + n * stride, &count, &opts);
      if (err < 0 && err != -ENOENT) break;
      n += count;
      first = false;
      in_batch = out_batch;
      if (err == -ENOENT) {
        err = 0;
        break;
      }
    }
    if (err == 0) {
      batched = true;
    } else if (n == 0 && (err == -EINVAL || err == -ENOTSUP || err == -kENOTSUPP)) {
      batched = false;  // no batch ops here: iterate below
    } else {
      throw BpfError(env, err, "cannot read map " + Name());
    }
  }
  if (!batched) {
    n = 0;
    std::vector<uint8_t> key(key_size);
    std::vector<uint8_t> next(key_size);
    const void* prev = nullptr;
    while (n < max && bpf_map_get_next_key(fd, prev, next.data()) == 0) {
      if (bpf_map_lookup_elem(fd, next.data(), raw_.data() + n * stride) == 0) {
        memcpy(keys_.data() + n * key_size, next.data(), key_size);
        n++;
      }
      key.swap(next);
      prev = key.data();
    }
  }

  Napi::ArrayBuffer keys = Napi::ArrayBuffer::New(env, n * key_size);
  if (n > 0) memcpy(keys.Data(), keys_.data(), n * key_size);
  Napi::ArrayBuffer values = Napi::ArrayBuffer::New(env, n * value_size);
  uint8_t* out = static_cast<uint8_t*>(values.Data());
  if (per_cpu) {
    for (size_t i = 0; i < n; i++) {
      SumPerCpu(raw_.data() + i * stride, value_size, static_cast<size_t>(ncpu), out + i * value_size);
    }
  } else if (n > 0) {
    memcpy(out, raw_.data(), n * value_size);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("count", static_cast<double>(n));
  result.Set("keys", keys);
  result.Set("values", values);
  return result;
}

size_t Map::DeleteKeys(Napi::Env env, const Napi::Uint8Array& keys) {
  const int fd = bpf_map__fd(map_);
  if (fd < 0) throw Napi::Error::New(env, "map " + Name() + " is not loaded");
  const size_t key_size = bpf_map__key_size(map_);
  if (keys.ByteLength() % key_size != 0) throw Napi::TypeError::New(env, "keys length is not a multiple of the key size");
  const size_t n = keys.ByteLength() / key_size;
  size_t deleted = 0;
  size_t pos = 0;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  // A batch delete stops at the first missing key and reports how many it deleted before it: skip that key
  // and go on. Kernels or maps without batch delete take one call per key.
  bool batch = true;
  while (pos < n) {
    if (batch) {
      __u32 count = static_cast<__u32>(n - pos);
      int err = bpf_map_delete_batch(fd, keys.Data() + pos * key_size, &count, &opts);
      deleted += count;
      pos += count;
      if (err == 0) break;
      if (err == -ENOENT) {
        pos++;
        continue;
      }
      if (err == -EINVAL || err == -ENOTSUP || err == -kENOTSUPP) {
        batch = false;
        continue;
      }
      throw BpfError(env, err, "cannot delete keys from map " + Name());
    }
    int err = bpf_map_delete_elem(fd, keys.Data() + pos * key_size);
    if (err == 0) {
      deleted++;
    } else if (err != -ENOENT) {
      throw BpfError(env, err, "cannot delete a key from map " + Name());
    }
    pos++;
  }
  return deleted;
}

}  // namespace eoa
