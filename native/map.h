// Map: reads and key deletion of one map of a loaded BPF object. Not a JS class: a map's lifetime is its object's
// (libbpf owns the bpf_map), so BpfObject keeps one Map per map it was asked about and forwards to it.

#ifndef EOA_NATIVE_MAP_H
#define EOA_NATIVE_MAP_H

#include <napi.h>

#include <bpf/libbpf.h>

#include <cstdint>
#include <string>
#include <vector>

namespace eoa {

class Map {
 public:
  explicit Map(struct bpf_map* map) : map_(map) {}
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;

  // { count, keys: ArrayBuffer, values: ArrayBuffer }: every entry, keys packed at keySize, values at valueSize,
  // per-CPU values summed. One call and one pair of buffers per map per read.
  // At most `limit` entries (0: all), from the first key on: an array's first `limit` indexes.
  Napi::Value Read(Napi::Env env, size_t limit = 0);

  // Writes each key's value (keys and values packed at the map's sizes); a per-CPU map gets the value on every CPU.
  void Update(Napi::Env env, const Napi::Uint8Array& keys, const Napi::Uint8Array& values);

  // Number deleted; keys already gone are skipped, not errors.
  size_t DeleteKeys(Napi::Env env, const Napi::Uint8Array& keys);

 private:
  std::string Name() const { return bpf_map__name(map_); }
  // Sizes of one read: the kernel's raw value (stride) is one value per possible CPU for per-CPU maps.
  struct Layout {
    size_t key_size;
    size_t value_size;
    size_t stride;
    size_t ncpu;
    bool per_cpu;
  };
  size_t ReadBatched(Napi::Env env, int fd, const Layout& layout, size_t limit, bool* supported);
  size_t ReadByKey(Napi::Env env, int fd, const Layout& layout, size_t limit);
  void Reserve(size_t entries);
  // Frees keys_ and values_ (after a read has copied them out).
  void Release();

  struct bpf_map* map_;
  // Scratch of one read: its keys and (summed) values, freed once copied out; and one chunk of raw per-CPU values
  // (at most 1 MiB, kept between reads).
  std::vector<uint8_t> keys_;
  std::vector<uint8_t> values_;
  std::vector<uint8_t> raw_;
};

}  // namespace eoa

#endif  // EOA_NATIVE_MAP_H
