#include "map.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common.h"

namespace eoa {

namespace {

// The kernel's ENOTSUPP (no batch operations for this map type) is not in the user-space headers.
constexpr int kENOTSUPP = 524;

// A batch read asks for at most this many bytes of raw values at a time (and at least kMinChunk entries), so the
// scratch, and the kernel's own buffer for one call, stay bounded whatever max_entries and the CPU count are.
constexpr size_t kChunkBytes = 1 << 20;
constexpr size_t kMinChunk = 64;

}  // namespace

void Map::Release() {
  std::vector<uint8_t>().swap(keys_);
  std::vector<uint8_t>().swap(values_);
}

// Room for `entries` entries in keys_ and values_, grown geometrically within a read.
void Map::Reserve(size_t entries) {
  const size_t key_bytes = entries * bpf_map__key_size(map_);
  const size_t value_bytes = entries * bpf_map__value_size(map_);
  if (keys_.size() < key_bytes) keys_.resize(std::max(key_bytes, keys_.size() * 2));
  if (values_.size() < value_bytes) values_.resize(std::max(value_bytes, values_.size() * 2));
}

Napi::Value Map::Read(Napi::Env env, size_t limit) {
  const int fd = bpf_map__fd(map_);
  if (fd < 0) throw Napi::Error::New(env, "map " + Name() + " is not loaded");
  Layout layout;
  layout.key_size = bpf_map__key_size(map_);
  layout.value_size = bpf_map__value_size(map_);
  layout.per_cpu = IsPerCpu(bpf_map__type(map_));
  if (layout.per_cpu && layout.value_size % 8 != 0) {
    throw Napi::Error::New(env, "map " + Name() + ": per-CPU values must be made of u64 lanes");
  }
  const int ncpu = layout.per_cpu ? libbpf_num_possible_cpus() : 1;
  if (ncpu <= 0) throw BpfError(env, ncpu, "cannot count possible CPUs");
  layout.ncpu = static_cast<size_t>(ncpu);
  layout.stride = layout.per_cpu ? PerCpuStride(layout.value_size, layout.ncpu) : layout.value_size;

  bool supported = bpf_map__type(map_) != BPF_MAP_TYPE_RINGBUF;
  size_t n = supported ? ReadBatched(env, fd, layout, limit, &supported) : 0;
  if (!supported) n = ReadByKey(env, fd, layout, limit);

  Napi::ArrayBuffer keys = Napi::ArrayBuffer::New(env, n * layout.key_size);
  if (n > 0) memcpy(keys.Data(), keys_.data(), n * layout.key_size);
  Napi::ArrayBuffer values = Napi::ArrayBuffer::New(env, n * layout.value_size);
  if (n > 0) memcpy(values.Data(), values_.data(), n * layout.value_size);
  // The scratch goes back to the allocator (mmap'd at these sizes, so to the kernel): kept, a read of 100,000
  // processes' maps kept tens of MiB resident between polls for a copy that lasts microseconds.
  Release();
  Napi::Object result = Napi::Object::New(env);
  result.Set("count", static_cast<double>(n));
  result.Set("keys", keys);
  result.Set("values", values);
  return result;
}

// Batch lookups in bounded chunks. Sets *supported to false (and returns 0) where the kernel or map type has no
// batch reads.
size_t Map::ReadBatched(Napi::Env env, int fd, const Layout& layout, size_t limit, bool* supported) {
  const size_t key_size = layout.key_size;
  const size_t value_size = layout.value_size;
  const size_t stride = layout.stride;
  const bool per_cpu = layout.per_cpu;
  size_t max = std::max<size_t>(bpf_map__max_entries(map_), 1);
  if (limit > 0) max = std::min(max, limit);
  size_t chunk = std::min(max, std::max(kMinChunk, kChunkBytes / std::max<size_t>(stride, 1)));

  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  uint64_t in_batch = 0;
  uint64_t out_batch = 0;
  bool first = true;
  size_t n = 0;
  for (;;) {
    Reserve(n + chunk);
    uint8_t* values = values_.data() + n * value_size;
    if (per_cpu) {
      if (raw_.size() < chunk * stride) raw_.resize(chunk * stride);
      values = raw_.data();
    }
    __u32 count = static_cast<__u32>(limit > 0 ? std::min(chunk, limit - n) : chunk);
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys_.data() + n * key_size, values,
                                   &count, &opts);
    if (err == -ENOSPC && chunk < max) {
      // One hash bucket holds more entries than a chunk: ask again from the same place for more.
      chunk = std::min(max, chunk * 2);
      continue;
    }
    if (err < 0 && err != -ENOENT) {
      if (first && (err == -EINVAL || err == -ENOTSUP || err == -kENOTSUPP)) {
        *supported = false;
        return 0;
      }
      throw BpfError(env, err, "cannot read map " + Name());
    }
    if (per_cpu) {
      for (size_t i = 0; i < count; i++) {
        SumPerCpu(raw_.data() + i * stride, value_size, layout.ncpu, values_.data() + (n + i) * value_size);
      }
    }
    n += count;
    first = false;
    in_batch = out_batch;
    if (err == -ENOENT || (limit > 0 && n >= limit)) return n;
  }
}

// One get_next_key and one lookup per entry, for kernels or map types without batch reads.
size_t Map::ReadByKey(Napi::Env env, int fd, const Layout& layout, size_t limit) {
  const size_t key_size = layout.key_size;
  const size_t value_size = layout.value_size;
  const size_t stride = layout.stride;
  size_t max = bpf_map__max_entries(map_);
  if (limit > 0) max = std::min(max, limit);
  if (raw_.size() < stride) raw_.resize(stride);
  std::vector<uint8_t> key(key_size);
  std::vector<uint8_t> next(key_size);
  const void* prev = nullptr;
  size_t n = 0;
  // Bounded by max_entries: a hash map restarts from its first key when the previous one was deleted meanwhile.
  while (n < max) {
    int err = bpf_map_get_next_key(fd, prev, next.data());
    if (err == -ENOENT) break;
    if (err < 0) throw BpfError(env, err, "cannot read map " + Name());
    if (bpf_map_lookup_elem(fd, next.data(), raw_.data()) == 0) {
      Reserve(n + 1);
      memcpy(keys_.data() + n * key_size, next.data(), key_size);
      if (layout.per_cpu) {
        SumPerCpu(raw_.data(), value_size, layout.ncpu, values_.data() + n * value_size);
      } else {
        memcpy(values_.data() + n * value_size, raw_.data(), value_size);
      }
      n++;
    }
    key.swap(next);
    prev = key.data();
  }
  return n;
}

void Map::Update(Napi::Env env, const Napi::Uint8Array& keys, const Napi::Uint8Array& values) {
  const int fd = bpf_map__fd(map_);
  if (fd < 0) throw Napi::Error::New(env, "map " + Name() + " is not loaded");
  const size_t key_size = bpf_map__key_size(map_);
  const size_t value_size = bpf_map__value_size(map_);
  const size_t n = keys.ByteLength() / key_size;
  if (keys.ByteLength() % key_size != 0 || values.ByteLength() != n * value_size) {
    throw Napi::TypeError::New(env, "keys and values do not match the map's key and value sizes");
  }
  const bool per_cpu = IsPerCpu(bpf_map__type(map_));
  const int ncpu = per_cpu ? libbpf_num_possible_cpus() : 1;
  if (ncpu <= 0) throw BpfError(env, ncpu, "cannot count possible CPUs");
  const size_t stride = per_cpu ? PerCpuStride(value_size, static_cast<size_t>(ncpu)) : value_size;
  const size_t lane = per_cpu ? stride / static_cast<size_t>(ncpu) : value_size;
  std::vector<uint8_t> raw(stride, 0);
  for (size_t i = 0; i < n; i++) {
    for (int cpu = 0; cpu < ncpu; cpu++) memcpy(raw.data() + cpu * lane, values.Data() + i * value_size, value_size);
    int err = bpf_map_update_elem(fd, keys.Data() + i * key_size, raw.data(), BPF_ANY);
    if (err < 0) throw BpfError(env, err, "cannot update map " + Name());
  }
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
