{
  "targets": [
    {
      "target_name": "duiad",
      "sources": [
        "native/addon.cc",
        "native/common.cc",
        "native/tensor.cc",
        "native/math.cc",
        "native/nn.cc",
        "native/optim.cc",
        "native/allocator.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"process.env.LIBTORCH ? process.env.LIBTORCH + '/include' : '/usr/include'\")"
      ],
      "libraries": [
        "<!(node -p \"process.env.LIBTORCH ? '-L' + process.env.LIBTORCH + '/lib -Wl,-rpath,' + process.env.LIBTORCH + '/lib' : ''\")",
        "-ltorch",
        "-ltorch_cpu",
        "-lc10"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NAPI_VERSION=8"]
    }
  ]
}
