{
  "targets": [
    {
      "target_name": "ebpf_addon",
      "sources": ["addon.cc", "common.cc", "link.cc", "map.cc", "netlink.cc", "object.cc", "ring_buffer.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "../bpf"],
      "defines": ["NAPI_VERSION=9", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Werror"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
