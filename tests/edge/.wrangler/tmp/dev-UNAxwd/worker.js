var __defProp = Object.defineProperty;
var __name = (target, value) => __defProp(target, "name", { value, configurable: true });

// ../../build/index.js
import { WorkerEntrypoint as yt } from "cloudflare:workers";
import X from "./fa103aa31cc7d3f5c25dd30ca7bdbe4d8dddc0f1-index_bg.wasm";
var V = globalThis.__worker_init_state = { criticalError: false, instanceId: 0 };
var v = class {
  static {
    __name(this, "v");
  }
  __destroy_into_raw() {
    let t = this.__wbg_ptr;
    return this.__wbg_ptr = 0, ft.unregister(this), t;
  }
  free() {
    let t = this.__destroy_into_raw();
    a();
    try {
      _.__wbg_containerstartupoptions_free(t, 0);
    } catch (e) {
      c(e);
    }
  }
  get enableInternet() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t;
    a();
    try {
      t = _.__wbg_get_containerstartupoptions_enableInternet(this.__wbg_ptr);
    } catch (e) {
      c(e);
    }
    return t === 16777215 ? void 0 : t !== 0;
  }
  get entrypoint() {
    try {
      if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
      let i = _.__wbindgen_add_to_stack_pointer(-16) >>> 0;
      a();
      try {
        _.__wbg_get_containerstartupoptions_entrypoint(i, this.__wbg_ptr);
      } catch (s) {
        c(s);
      }
      var t = f().getInt32(i + 0, true), e = f().getInt32(i + 4, true), n = gt(t, e);
      return _.__wbindgen_export4(t, e * 4, 4), n;
    } finally {
      _.__wbindgen_add_to_stack_pointer(16);
    }
  }
  get env() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t;
    a();
    try {
      t = _.__wbg_get_containerstartupoptions_env(this.__wbg_ptr);
    } catch (e) {
      c(e);
    }
    return t;
  }
  set enableInternet(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    a();
    try {
      _.__wbg_set_containerstartupoptions_enableInternet(this.__wbg_ptr, u(t) ? 16777215 : t ? 1 : 0);
    } catch (e) {
      c(e);
    }
  }
  set entrypoint(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let e = wt(t, _.__wbindgen_export2), n = g;
    a();
    try {
      _.__wbg_set_containerstartupoptions_entrypoint(this.__wbg_ptr, e, n);
    } catch (i) {
      c(i);
    }
  }
  set env(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    a();
    try {
      _.__wbg_set_containerstartupoptions_env(this.__wbg_ptr, t);
    } catch (e) {
      c(e);
    }
  }
};
Symbol.dispose && (v.prototype[Symbol.dispose] = v.prototype.free);
var S = class {
  static {
    __name(this, "S");
  }
  __destroy_into_raw() {
    let t = this.__wbg_ptr;
    return this.__wbg_ptr = 0, ut.unregister(this), t;
  }
  free() {
    let t = this.__destroy_into_raw();
    a();
    try {
      _.__wbg_intounderlyingbytesource_free(t, 0);
    } catch (e) {
      c(e);
    }
  }
  get autoAllocateChunkSize() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t;
    a();
    try {
      t = _.intounderlyingbytesource_autoAllocateChunkSize(this.__wbg_ptr);
    } catch (e) {
      c(e);
    }
    return t >>> 0;
  }
  cancel() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t = this.__destroy_into_raw();
    a();
    try {
      _.intounderlyingbytesource_cancel(t);
    } catch (e) {
      c(e);
    }
  }
  pull(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let e;
    a();
    try {
      e = _.intounderlyingbytesource_pull(this.__wbg_ptr, t);
    } catch (n) {
      c(n);
    }
    return e;
  }
  start(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    a();
    try {
      _.intounderlyingbytesource_start(this.__wbg_ptr, t);
    } catch (e) {
      c(e);
    }
  }
  get type() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t;
    a();
    try {
      t = _.intounderlyingbytesource_type(this.__wbg_ptr);
    } catch (e) {
      c(e);
    }
    return st[t];
  }
};
Symbol.dispose && (S.prototype[Symbol.dispose] = S.prototype.free);
var A = class {
  static {
    __name(this, "A");
  }
  __destroy_into_raw() {
    let t = this.__wbg_ptr;
    return this.__wbg_ptr = 0, bt.unregister(this), t;
  }
  free() {
    let t = this.__destroy_into_raw();
    a();
    try {
      _.__wbg_intounderlyingsink_free(t, 0);
    } catch (e) {
      c(e);
    }
  }
  abort(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let e = this.__destroy_into_raw(), n;
    a();
    try {
      n = _.intounderlyingsink_abort(e, t);
    } catch (i) {
      c(i);
    }
    return n;
  }
  close() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t = this.__destroy_into_raw(), e;
    a();
    try {
      e = _.intounderlyingsink_close(t);
    } catch (n) {
      c(n);
    }
    return e;
  }
  write(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let e;
    a();
    try {
      e = _.intounderlyingsink_write(this.__wbg_ptr, t);
    } catch (n) {
      c(n);
    }
    return e;
  }
};
Symbol.dispose && (A.prototype[Symbol.dispose] = A.prototype.free);
var k = class r {
  static {
    __name(this, "r");
  }
  static __wrap(t) {
    let e = Object.create(r.prototype);
    return e.__wbg_ptr = t, Object.defineProperty(e, "__wbg_inst", { value: o, writable: true }), H.register(e, { ptr: t, instance: o }, e), e;
  }
  __destroy_into_raw() {
    let t = this.__wbg_ptr;
    return this.__wbg_ptr = 0, H.unregister(this), t;
  }
  free() {
    let t = this.__destroy_into_raw();
    a();
    try {
      _.__wbg_intounderlyingsource_free(t, 0);
    } catch (e) {
      c(e);
    }
  }
  cancel() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t = this.__destroy_into_raw();
    a();
    try {
      _.intounderlyingsource_cancel(t);
    } catch (e) {
      c(e);
    }
  }
  pull(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let e;
    a();
    try {
      e = _.intounderlyingsource_pull(this.__wbg_ptr, t);
    } catch (n) {
      c(n);
    }
    return e;
  }
};
Symbol.dispose && (k.prototype[Symbol.dispose] = k.prototype.free);
var x = class r2 {
  static {
    __name(this, "r");
  }
  static __wrap(t) {
    let e = Object.create(r2.prototype);
    return e.__wbg_ptr = t, Object.defineProperty(e, "__wbg_inst", { value: o, writable: true }), J.register(e, { ptr: t, instance: o }, e), e;
  }
  __destroy_into_raw() {
    let t = this.__wbg_ptr;
    return this.__wbg_ptr = 0, J.unregister(this), t;
  }
  free() {
    let t = this.__destroy_into_raw();
    a();
    try {
      _.__wbg_minifyconfig_free(t, 0);
    } catch (e) {
      c(e);
    }
  }
  get css() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t;
    a();
    try {
      t = _.__wbg_get_minifyconfig_css(this.__wbg_ptr);
    } catch (e) {
      c(e);
    }
    return t !== 0;
  }
  get html() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t;
    a();
    try {
      t = _.__wbg_get_minifyconfig_html(this.__wbg_ptr);
    } catch (e) {
      c(e);
    }
    return t !== 0;
  }
  get js() {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    let t;
    a();
    try {
      t = _.__wbg_get_minifyconfig_js(this.__wbg_ptr);
    } catch (e) {
      c(e);
    }
    return t !== 0;
  }
  set css(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    a();
    try {
      _.__wbg_set_minifyconfig_css(this.__wbg_ptr, t);
    } catch (e) {
      c(e);
    }
  }
  set html(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    a();
    try {
      _.__wbg_set_minifyconfig_html(this.__wbg_ptr, t);
    } catch (e) {
      c(e);
    }
  }
  set js(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    a();
    try {
      _.__wbg_set_minifyconfig_js(this.__wbg_ptr, t);
    } catch (e) {
      c(e);
    }
  }
};
Symbol.dispose && (x.prototype[Symbol.dispose] = x.prototype.free);
var I = class {
  static {
    __name(this, "I");
  }
  __destroy_into_raw() {
    let t = this.__wbg_ptr;
    return this.__wbg_ptr = 0, dt.unregister(this), t;
  }
  free() {
    let t = this.__destroy_into_raw();
    a();
    try {
      _.__wbg_r2range_free(t, 0);
    } catch (e) {
      c(e);
    }
  }
  get length() {
    try {
      if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
      let n = _.__wbindgen_add_to_stack_pointer(-16) >>> 0;
      a();
      try {
        _.__wbg_get_r2range_length(n, this.__wbg_ptr);
      } catch (i) {
        c(i);
      }
      var t = f().getInt32(n + 0, true), e = f().getFloat64(n + 8, true);
      return t === 0 ? void 0 : e;
    } finally {
      _.__wbindgen_add_to_stack_pointer(16);
    }
  }
  get offset() {
    try {
      if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
      let n = _.__wbindgen_add_to_stack_pointer(-16) >>> 0;
      a();
      try {
        _.__wbg_get_r2range_offset(n, this.__wbg_ptr);
      } catch (i) {
        c(i);
      }
      var t = f().getInt32(n + 0, true), e = f().getFloat64(n + 8, true);
      return t === 0 ? void 0 : e;
    } finally {
      _.__wbindgen_add_to_stack_pointer(16);
    }
  }
  get suffix() {
    try {
      if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
      let n = _.__wbindgen_add_to_stack_pointer(-16) >>> 0;
      a();
      try {
        _.__wbg_get_r2range_suffix(n, this.__wbg_ptr);
      } catch (i) {
        c(i);
      }
      var t = f().getInt32(n + 0, true), e = f().getFloat64(n + 8, true);
      return t === 0 ? void 0 : e;
    } finally {
      _.__wbindgen_add_to_stack_pointer(16);
    }
  }
  set length(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    a();
    try {
      _.__wbg_set_r2range_length(this.__wbg_ptr, !u(t), u(t) ? 0 : t);
    } catch (e) {
      c(e);
    }
  }
  set offset(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    a();
    try {
      _.__wbg_set_r2range_offset(this.__wbg_ptr, !u(t), u(t) ? 0 : t);
    } catch (e) {
      c(e);
    }
  }
  set suffix(t) {
    if (this.__wbg_inst !== void 0 && this.__wbg_inst !== o) throw new Error("Invalid stale object from previous Wasm instance");
    a();
    try {
      _.__wbg_set_r2range_suffix(this.__wbg_ptr, !u(t), u(t) ? 0 : t);
    } catch (e) {
      c(e);
    }
  }
};
Symbol.dispose && (I.prototype[Symbol.dispose] = I.prototype.free);
function O() {
  o++, m = null, R = null, F = null, typeof numBytesDecoded < "u" && (numBytesDecoded = 0), typeof g < "u" && (g = 0), U = false, T = false, q = new WebAssembly.Instance(X, tt()), _ = q.exports, _.__wbindgen_start();
}
__name(O, "O");
function Y() {
  let r3;
  a();
  try {
    r3 = _.__worker_init_state();
  } catch (t) {
    c(t);
  }
  return r3;
}
__name(Y, "Y");
function Z(r3, t, e) {
  let n;
  a();
  try {
    n = _.fetch(r3, t, e);
  } catch (i) {
    c(i);
  }
  return n;
}
__name(Z, "Z");
function tt() {
  return { __proto__: null, "./index_bg.js": { __proto__: null, __wbg_Error_208446807d0d1e30: /* @__PURE__ */ __name(function(t, e) {
    return Error(w(t, e));
  }, "__wbg_Error_208446807d0d1e30"), __wbg_String_8564e559799eccda: /* @__PURE__ */ __name(function(t, e) {
    let n = String(e), i = h(n, _.__wbindgen_export2, _.__wbindgen_export3), s = g;
    f().setInt32((t >>> 0) + 4, s, true), f().setInt32((t >>> 0) + 0, i, true);
  }, "__wbg_String_8564e559799eccda"), __wbg___wbindgen_debug_string_f249a2a76caa9a55: /* @__PURE__ */ __name(function(t, e) {
    let n = nt(e), i = h(n, _.__wbindgen_export2, _.__wbindgen_export3), s = g;
    f().setInt32((t >>> 0) + 4, s, true), f().setInt32((t >>> 0) + 0, i, true);
  }, "__wbg___wbindgen_debug_string_f249a2a76caa9a55"), __wbg___wbindgen_is_function_741ff2bb612836f5: /* @__PURE__ */ __name(function(t) {
    return typeof t == "function";
  }, "__wbg___wbindgen_is_function_741ff2bb612836f5"), __wbg___wbindgen_is_null_or_undefined_fb96af93c75460ae: /* @__PURE__ */ __name(function(t) {
    return t == null;
  }, "__wbg___wbindgen_is_null_or_undefined_fb96af93c75460ae"), __wbg___wbindgen_is_string_fc456fee5d3317de: /* @__PURE__ */ __name(function(t) {
    return typeof t == "string";
  }, "__wbg___wbindgen_is_string_fc456fee5d3317de"), __wbg___wbindgen_is_undefined_be5b34249ff1fc15: /* @__PURE__ */ __name(function(t) {
    return t === void 0;
  }, "__wbg___wbindgen_is_undefined_be5b34249ff1fc15"), __wbg___wbindgen_reinit_2fe0d0b9c1cc3c21: /* @__PURE__ */ __name(function() {
    T = true;
  }, "__wbg___wbindgen_reinit_2fe0d0b9c1cc3c21"), __wbg___wbindgen_string_get_7ce8eee7fd327545: /* @__PURE__ */ __name(function(t, e) {
    let n = e, i = typeof n == "string" ? n : void 0;
    var s = u(i) ? 0 : h(i, _.__wbindgen_export2, _.__wbindgen_export3), b = g;
    f().setInt32((t >>> 0) + 4, b, true), f().setInt32((t >>> 0) + 0, s, true);
  }, "__wbg___wbindgen_string_get_7ce8eee7fd327545"), __wbg___wbindgen_throw_4c88d8bf264fd984: /* @__PURE__ */ __name(function(t, e) {
    throw new WebAssembly.Exception(C, [new Error(w(t, e))]);
  }, "__wbg___wbindgen_throw_4c88d8bf264fd984"), __wbg__wbg_cb_unref_09736879a3f67559: /* @__PURE__ */ __name(function(t) {
    t._wbg_cb_unref();
  }, "__wbg__wbg_cb_unref_09736879a3f67559"), __wbg_append_ba9a4dc30a0323fd: /* @__PURE__ */ __name(function(t, e, n, i, s) {
    t.append(w(e, n), w(i, s));
  }, "__wbg_append_ba9a4dc30a0323fd"), __wbg_body_0da01a9a056907d8: /* @__PURE__ */ __name(function(t) {
    let e = t.body;
    return u(e) ? 0 : l(e);
  }, "__wbg_body_0da01a9a056907d8"), __wbg_body_b86ad4fe78cc379c: /* @__PURE__ */ __name(function(t) {
    let e = t.body;
    return u(e) ? 0 : l(e);
  }, "__wbg_body_b86ad4fe78cc379c"), __wbg_buffer_aca05a93c046db1a: /* @__PURE__ */ __name(function(t) {
    return t.buffer;
  }, "__wbg_buffer_aca05a93c046db1a"), __wbg_byobRequest_18280c78e462544c: /* @__PURE__ */ __name(function(t) {
    let e = t.byobRequest;
    return u(e) ? 0 : l(e);
  }, "__wbg_byobRequest_18280c78e462544c"), __wbg_byteLength_c5f3c188d5252e5b: /* @__PURE__ */ __name(function(t) {
    return t.byteLength;
  }, "__wbg_byteLength_c5f3c188d5252e5b"), __wbg_byteOffset_63cdc7b38f33a45e: /* @__PURE__ */ __name(function(t) {
    return t.byteOffset;
  }, "__wbg_byteOffset_63cdc7b38f33a45e"), __wbg_call_40b008ba32f73991: /* @__PURE__ */ __name(function(t, e) {
    return t.call(e);
  }, "__wbg_call_40b008ba32f73991"), __wbg_call_a410eb4b59ed5965: /* @__PURE__ */ __name(function(t, e, n) {
    return t.call(e, n);
  }, "__wbg_call_a410eb4b59ed5965"), __wbg_call_fc92fee6137d452d: /* @__PURE__ */ __name(function(t, e, n, i) {
    return t.call(e, n, i);
  }, "__wbg_call_fc92fee6137d452d"), __wbg_cancel_b195250778e9d8e7: /* @__PURE__ */ __name(function(t) {
    return t.cancel();
  }, "__wbg_cancel_b195250778e9d8e7"), __wbg_catch_fd4c7ea14fde9d83: /* @__PURE__ */ __name(function(t, e) {
    return t.catch(e);
  }, "__wbg_catch_fd4c7ea14fde9d83"), __wbg_cause_4cdda1b55a30b227: /* @__PURE__ */ __name(function(t) {
    return t.cause;
  }, "__wbg_cause_4cdda1b55a30b227"), __wbg_cf_3eef96d446a499c0: /* @__PURE__ */ __name(function(t) {
    let e = t.cf;
    return u(e) ? 0 : l(e);
  }, "__wbg_cf_3eef96d446a499c0"), __wbg_cf_e4bf1d08e9961dec: /* @__PURE__ */ __name(function(t) {
    let e = t.cf;
    return u(e) ? 0 : l(e);
  }, "__wbg_cf_e4bf1d08e9961dec"), __wbg_city_ac75709a08c8a172: /* @__PURE__ */ __name(function(t, e) {
    let n = e.city;
    var i = u(n) ? 0 : h(n, _.__wbindgen_export2, _.__wbindgen_export3), s = g;
    f().setInt32((t >>> 0) + 4, s, true), f().setInt32((t >>> 0) + 0, i, true);
  }, "__wbg_city_ac75709a08c8a172"), __wbg_close_294d3f727cb7a844: /* @__PURE__ */ __name(function(t) {
    t.close();
  }, "__wbg_close_294d3f727cb7a844"), __wbg_close_bf94aa7e38b9a94b: /* @__PURE__ */ __name(function(t) {
    t.close();
  }, "__wbg_close_bf94aa7e38b9a94b"), __wbg_constructor_76ad3e2c50d259de: /* @__PURE__ */ __name(function(t) {
    return t.constructor;
  }, "__wbg_constructor_76ad3e2c50d259de"), __wbg_continent_7d3a2e895a62b3fe: /* @__PURE__ */ __name(function(t, e) {
    let n = e.continent;
    var i = u(n) ? 0 : h(n, _.__wbindgen_export2, _.__wbindgen_export3), s = g;
    f().setInt32((t >>> 0) + 4, s, true), f().setInt32((t >>> 0) + 0, i, true);
  }, "__wbg_continent_7d3a2e895a62b3fe"), __wbg_country_97c42f70ad2b423a: /* @__PURE__ */ __name(function(t, e) {
    let n = e.country;
    var i = u(n) ? 0 : h(n, _.__wbindgen_export2, _.__wbindgen_export3), s = g;
    f().setInt32((t >>> 0) + 4, s, true), f().setInt32((t >>> 0) + 0, i, true);
  }, "__wbg_country_97c42f70ad2b423a"), __wbg_done_57e08d0be6e30c02: /* @__PURE__ */ __name(function(t) {
    return t.done;
  }, "__wbg_done_57e08d0be6e30c02"), __wbg_enqueue_c11626eae1c54509: /* @__PURE__ */ __name(function(t, e) {
    t.enqueue(e);
  }, "__wbg_enqueue_c11626eae1c54509"), __wbg_entries_fb0b3ba27a6e0bf7: /* @__PURE__ */ __name(function(t) {
    return t.entries();
  }, "__wbg_entries_fb0b3ba27a6e0bf7"), __wbg_error_9b95f63d905893d2: /* @__PURE__ */ __name(function(t, e) {
    console.error(t, e);
  }, "__wbg_error_9b95f63d905893d2"), __wbg_error_d1fc0193610e0e39: /* @__PURE__ */ __name(function(t) {
    console.error(t);
  }, "__wbg_error_d1fc0193610e0e39"), __wbg_fetch_5062478af0882fcd: /* @__PURE__ */ __name(function(t, e) {
    return t.fetch(e);
  }, "__wbg_fetch_5062478af0882fcd"), __wbg_fetch_8991a6a8ea67c83b: /* @__PURE__ */ __name(function(t, e, n, i) {
    return t.fetch(w(e, n), i);
  }, "__wbg_fetch_8991a6a8ea67c83b"), __wbg_fetch_a416b432a33cc077: /* @__PURE__ */ __name(function(t, e, n) {
    return t.fetch(e, n);
  }, "__wbg_fetch_a416b432a33cc077"), __wbg_getAll_ace34a5b58bd7d63: /* @__PURE__ */ __name(function(t, e, n) {
    return t.getAll(w(e, n));
  }, "__wbg_getAll_ace34a5b58bd7d63"), __wbg_getReader_3b3096cf504fce5e: /* @__PURE__ */ __name(function(t) {
    return t.getReader();
  }, "__wbg_getReader_3b3096cf504fce5e"), __wbg_getTime_edc91481cbc4cd78: /* @__PURE__ */ __name(function(t) {
    return t.getTime();
  }, "__wbg_getTime_edc91481cbc4cd78"), __wbg_get_0ae635d02d232017: /* @__PURE__ */ __name(function(t, e) {
    let n = Reflect.get(t, e);
    return u(n) ? 0 : l(n);
  }, "__wbg_get_0ae635d02d232017"), __wbg_get_2080c49015e35254: /* @__PURE__ */ __name(function(t, e) {
    return Reflect.get(t, e);
  }, "__wbg_get_2080c49015e35254"), __wbg_get_556f1c9a5c587e8c: /* @__PURE__ */ __name(function(t, e, n, i) {
    let s = e.get(w(n, i));
    var b = u(s) ? 0 : h(s, _.__wbindgen_export2, _.__wbindgen_export3), d = g;
    f().setInt32((t >>> 0) + 4, d, true), f().setInt32((t >>> 0) + 0, b, true);
  }, "__wbg_get_556f1c9a5c587e8c"), __wbg_get_d7176cfb76d71114: /* @__PURE__ */ __name(function(t, e) {
    return t[e >>> 0];
  }, "__wbg_get_d7176cfb76d71114"), __wbg_get_done_3bf2b4a34e149301: /* @__PURE__ */ __name(function(t) {
    let e = t.done;
    return u(e) ? 16777215 : e ? 1 : 0;
  }, "__wbg_get_done_3bf2b4a34e149301"), __wbg_get_unchecked_e6325ad374eff861: /* @__PURE__ */ __name(function(t, e) {
    return t[e >>> 0];
  }, "__wbg_get_unchecked_e6325ad374eff861"), __wbg_get_value_9454480da7066d61: /* @__PURE__ */ __name(function(t) {
    return t.value;
  }, "__wbg_get_value_9454480da7066d61"), __wbg_headers_5fc0106c076eb731: /* @__PURE__ */ __name(function(t) {
    return t.headers;
  }, "__wbg_headers_5fc0106c076eb731"), __wbg_headers_9ef80dd266706f48: /* @__PURE__ */ __name(function(t) {
    return t.headers;
  }, "__wbg_headers_9ef80dd266706f48"), __wbg_instanceId_65a51bedfd10160a: /* @__PURE__ */ __name(function(t) {
    return t.instanceId;
  }, "__wbg_instanceId_65a51bedfd10160a"), __wbg_instanceof_Error_74e3cca0c4a69161: /* @__PURE__ */ __name(function(t) {
    let e;
    try {
      e = t instanceof Error;
    } catch {
      e = false;
    }
    return e;
  }, "__wbg_instanceof_Error_74e3cca0c4a69161"), __wbg_instanceof_ReadableStream_ac28304925ec0f96: /* @__PURE__ */ __name(function(t) {
    let e;
    try {
      e = t instanceof ReadableStream;
    } catch {
      e = false;
    }
    return e;
  }, "__wbg_instanceof_ReadableStream_ac28304925ec0f96"), __wbg_instanceof_Response_5b0b4f7f1daeae51: /* @__PURE__ */ __name(function(t) {
    let e;
    try {
      e = t instanceof Response;
    } catch {
      e = false;
    }
    return e;
  }, "__wbg_instanceof_Response_5b0b4f7f1daeae51"), __wbg_keys_296846770c088f87: /* @__PURE__ */ __name(function(t) {
    return t.keys();
  }, "__wbg_keys_296846770c088f87"), __wbg_length_186163212ffe79c3: /* @__PURE__ */ __name(function(t) {
    return t.length;
  }, "__wbg_length_186163212ffe79c3"), __wbg_length_b03a0fabb109b1e9: /* @__PURE__ */ __name(function(t) {
    return t.length;
  }, "__wbg_length_b03a0fabb109b1e9"), __wbg_log_ff86bbb34c295e21: /* @__PURE__ */ __name(function(t) {
    console.log(t);
  }, "__wbg_log_ff86bbb34c295e21"), __wbg_message_43d8c8f1d543a349: /* @__PURE__ */ __name(function(t) {
    return t.message;
  }, "__wbg_message_43d8c8f1d543a349"), __wbg_method_3d406ebab4dd9853: /* @__PURE__ */ __name(function(t, e) {
    let n = e.method, i = h(n, _.__wbindgen_export2, _.__wbindgen_export3), s = g;
    f().setInt32((t >>> 0) + 4, s, true), f().setInt32((t >>> 0) + 0, i, true);
  }, "__wbg_method_3d406ebab4dd9853"), __wbg_minifyconfig_new: /* @__PURE__ */ __name(function(t) {
    return x.__wrap(t);
  }, "__wbg_minifyconfig_new"), __wbg_name_d1fa514fdca6a975: /* @__PURE__ */ __name(function(t) {
    return t.name;
  }, "__wbg_name_d1fa514fdca6a975"), __wbg_name_fd11f69c917c5670: /* @__PURE__ */ __name(function(t) {
    return t.name;
  }, "__wbg_name_fd11f69c917c5670"), __wbg_new_0_36d738a0c8cfac43: /* @__PURE__ */ __name(function() {
    return /* @__PURE__ */ new Date();
  }, "__wbg_new_0_36d738a0c8cfac43"), __wbg_new_277c27c26f94cbc2: /* @__PURE__ */ __name(function() {
    return new Headers();
  }, "__wbg_new_277c27c26f94cbc2"), __wbg_new_7075786089b89c5e: /* @__PURE__ */ __name(function() {
    return /* @__PURE__ */ new Map();
  }, "__wbg_new_7075786089b89c5e"), __wbg_new_787b9fb330d55d78: /* @__PURE__ */ __name(function(t, e) {
    return new Error(w(t, e));
  }, "__wbg_new_787b9fb330d55d78"), __wbg_new_cd4348290afae586: /* @__PURE__ */ __name(function() {
    return new Object();
  }, "__wbg_new_cd4348290afae586"), __wbg_new_typed_e09da9dae6ee5935: /* @__PURE__ */ __name(function(t, e) {
    try {
      var n = { a: t, b: e }, i = /* @__PURE__ */ __name((b, d) => {
        let p = n.a;
        n.a = 0;
        try {
          return it(p, n.b, b, d);
        } finally {
          n.a = p;
        }
      }, "i");
      return new Promise(i);
    } finally {
      n.a = 0;
    }
  }, "__wbg_new_typed_e09da9dae6ee5935"), __wbg_new_with_byte_offset_and_length_3cd32055a417f095: /* @__PURE__ */ __name(function(t, e, n) {
    return new Uint8Array(t, e >>> 0, n >>> 0);
  }, "__wbg_new_with_byte_offset_and_length_3cd32055a417f095"), __wbg_new_with_headers_28412d4f955f6225: /* @__PURE__ */ __name(function(t) {
    return new Headers(t);
  }, "__wbg_new_with_headers_28412d4f955f6225"), __wbg_new_with_into_underlying_source_ba3944e7f4c9d0c3: /* @__PURE__ */ __name(function(t, e) {
    return new ReadableStream(k.__wrap(t), e);
  }, "__wbg_new_with_into_underlying_source_ba3944e7f4c9d0c3"), __wbg_new_with_length_01b143a7e5dd5a3e: /* @__PURE__ */ __name(function(t) {
    return new Uint8Array(t >>> 0);
  }, "__wbg_new_with_length_01b143a7e5dd5a3e"), __wbg_new_with_opt_buffer_source_and_init_efb63b64b37a12c7: /* @__PURE__ */ __name(function(t, e) {
    return new Response(t, e);
  }, "__wbg_new_with_opt_buffer_source_and_init_efb63b64b37a12c7"), __wbg_new_with_opt_readable_stream_and_init_383c64eccf9e9cc7: /* @__PURE__ */ __name(function(t, e) {
    return new Response(t, e);
  }, "__wbg_new_with_opt_readable_stream_and_init_383c64eccf9e9cc7"), __wbg_new_with_opt_str_and_init_6456bed24baae6fc: /* @__PURE__ */ __name(function(t, e, n) {
    return new Response(t === 0 ? void 0 : w(t, e), n);
  }, "__wbg_new_with_opt_str_and_init_6456bed24baae6fc"), __wbg_new_with_str_and_init_d9f6b5611184e16b: /* @__PURE__ */ __name(function(t, e, n) {
    return new Request(w(t, e), n);
  }, "__wbg_new_with_str_and_init_d9f6b5611184e16b"), __wbg_next_af5ac6a08bb0a717: /* @__PURE__ */ __name(function(t) {
    return t.next();
  }, "__wbg_next_af5ac6a08bb0a717"), __wbg_prototypesetcall_13162965d1fe7aa3: /* @__PURE__ */ __name(function(t, e, n) {
    Uint8Array.prototype.set.call(K(t, e), n);
  }, "__wbg_prototypesetcall_13162965d1fe7aa3"), __wbg_queueMicrotask_1e8503a8a690f0a3: /* @__PURE__ */ __name(function(t) {
    return t.queueMicrotask;
  }, "__wbg_queueMicrotask_1e8503a8a690f0a3"), __wbg_queueMicrotask_4a1a4d8dd332373b: /* @__PURE__ */ __name(function(t) {
    queueMicrotask(t);
  }, "__wbg_queueMicrotask_4a1a4d8dd332373b"), __wbg_random_df36b90cd78a7d54: /* @__PURE__ */ __name(function() {
    return Math.random();
  }, "__wbg_random_df36b90cd78a7d54"), __wbg_read_e3bea75dace70752: /* @__PURE__ */ __name(function(t) {
    return t.read();
  }, "__wbg_read_e3bea75dace70752"), __wbg_region_613930ff7835b84a: /* @__PURE__ */ __name(function(t, e) {
    let n = e.region;
    var i = u(n) ? 0 : h(n, _.__wbindgen_export2, _.__wbindgen_export3), s = g;
    f().setInt32((t >>> 0) + 4, s, true), f().setInt32((t >>> 0) + 0, i, true);
  }, "__wbg_region_613930ff7835b84a"), __wbg_releaseLock_eddf1401c763f0b9: /* @__PURE__ */ __name(function(t) {
    t.releaseLock();
  }, "__wbg_releaseLock_eddf1401c763f0b9"), __wbg_resolve_dbf78ab4942478b0: /* @__PURE__ */ __name(function(t) {
    return Promise.resolve(t);
  }, "__wbg_resolve_dbf78ab4942478b0"), __wbg_respond_d97c023ee981d1f5: /* @__PURE__ */ __name(function(t, e) {
    t.respond(e >>> 0);
  }, "__wbg_respond_d97c023ee981d1f5"), __wbg_set_2793479888329cb6: /* @__PURE__ */ __name(function(t, e, n) {
    return Reflect.set(t, e, n);
  }, "__wbg_set_2793479888329cb6"), __wbg_set_8282f7e0d2d01336: /* @__PURE__ */ __name(function(t, e, n) {
    return t.set(e, n);
  }, "__wbg_set_8282f7e0d2d01336"), __wbg_set_bcb0ec2400cfa22e: /* @__PURE__ */ __name(function(t, e, n, i, s) {
    t.set(w(e, n), w(i, s));
  }, "__wbg_set_bcb0ec2400cfa22e"), __wbg_set_body_877d5251e78ca815: /* @__PURE__ */ __name(function(t, e) {
    t.body = e;
  }, "__wbg_set_body_877d5251e78ca815"), __wbg_set_cache_7a23201e29cbd632: /* @__PURE__ */ __name(function(t, e) {
    t.cache = ct[e];
  }, "__wbg_set_cache_7a23201e29cbd632"), __wbg_set_criticalError_c30445da7038dbf2: /* @__PURE__ */ __name(function(t, e) {
    t.criticalError = e !== 0;
  }, "__wbg_set_criticalError_c30445da7038dbf2"), __wbg_set_e4b9a833d288759a: /* @__PURE__ */ __name(function(t, e, n) {
    t[e] = n;
  }, "__wbg_set_e4b9a833d288759a"), __wbg_set_feb3714f475485ba: /* @__PURE__ */ __name(function(t, e, n) {
    t.set(K(e, n));
  }, "__wbg_set_feb3714f475485ba"), __wbg_set_headers_07f10dbe49bc0e77: /* @__PURE__ */ __name(function(t, e) {
    t.headers = e;
  }, "__wbg_set_headers_07f10dbe49bc0e77"), __wbg_set_headers_6d75a7df4eb22716: /* @__PURE__ */ __name(function(t, e) {
    t.headers = e;
  }, "__wbg_set_headers_6d75a7df4eb22716"), __wbg_set_high_water_mark_2c2355a75a627679: /* @__PURE__ */ __name(function(t, e) {
    t.highWaterMark = e;
  }, "__wbg_set_high_water_mark_2c2355a75a627679"), __wbg_set_instanceId_6f5f77d81e249b49: /* @__PURE__ */ __name(function(t, e) {
    t.instanceId = e >>> 0;
  }, "__wbg_set_instanceId_6f5f77d81e249b49"), __wbg_set_method_639e69af35614d36: /* @__PURE__ */ __name(function(t, e, n) {
    t.method = w(e, n);
  }, "__wbg_set_method_639e69af35614d36"), __wbg_set_redirect_a95a432ab7d10765: /* @__PURE__ */ __name(function(t, e) {
    t.redirect = at[e];
  }, "__wbg_set_redirect_a95a432ab7d10765"), __wbg_set_signal_0b2eee78907e5ba7: /* @__PURE__ */ __name(function(t, e) {
    t.signal = e;
  }, "__wbg_set_signal_0b2eee78907e5ba7"), __wbg_set_status_bd9dc81d1c17b108: /* @__PURE__ */ __name(function(t, e) {
    t.status = e;
  }, "__wbg_set_status_bd9dc81d1c17b108"), __wbg_static_accessor_GLOBAL_THIS_003ee833af9699fc: /* @__PURE__ */ __name(function() {
    let t = typeof globalThis > "u" ? void 0 : globalThis;
    return u(t) ? 0 : l(t);
  }, "__wbg_static_accessor_GLOBAL_THIS_003ee833af9699fc"), __wbg_static_accessor_GLOBAL_e4293fb22cbe77da: /* @__PURE__ */ __name(function() {
    let t = typeof global > "u" ? void 0 : global;
    return u(t) ? 0 : l(t);
  }, "__wbg_static_accessor_GLOBAL_e4293fb22cbe77da"), __wbg_static_accessor_INIT_STATE_b2269150d11f01e0: /* @__PURE__ */ __name(function() {
    return V;
  }, "__wbg_static_accessor_INIT_STATE_b2269150d11f01e0"), __wbg_static_accessor_SELF_53bb20457401453d: /* @__PURE__ */ __name(function() {
    let t = typeof self > "u" ? void 0 : self;
    return u(t) ? 0 : l(t);
  }, "__wbg_static_accessor_SELF_53bb20457401453d"), __wbg_static_accessor_WINDOW_b5e0810bfecb7feb: /* @__PURE__ */ __name(function() {
    let t = typeof window > "u" ? void 0 : window;
    return u(t) ? 0 : l(t);
  }, "__wbg_static_accessor_WINDOW_b5e0810bfecb7feb"), __wbg_status_cb85b6c8d1769fa1: /* @__PURE__ */ __name(function(t) {
    return t.status;
  }, "__wbg_status_cb85b6c8d1769fa1"), __wbg_then_656f253a5dd7d8ea: /* @__PURE__ */ __name(function(t, e, n) {
    return t.then(e, n);
  }, "__wbg_then_656f253a5dd7d8ea"), __wbg_then_e3f7f2d365708be8: /* @__PURE__ */ __name(function(t, e) {
    return t.then(e);
  }, "__wbg_then_e3f7f2d365708be8"), __wbg_url_1be993c7b186415b: /* @__PURE__ */ __name(function(t, e) {
    let n = e.url, i = h(n, _.__wbindgen_export2, _.__wbindgen_export3), s = g;
    f().setInt32((t >>> 0) + 4, s, true), f().setInt32((t >>> 0) + 0, i, true);
  }, "__wbg_url_1be993c7b186415b"), __wbg_value_e0f328965e184931: /* @__PURE__ */ __name(function(t) {
    return t.value;
  }, "__wbg_value_e0f328965e184931"), __wbg_view_3b708d3bdaf3fc96: /* @__PURE__ */ __name(function(t) {
    let e = t.view;
    return u(e) ? 0 : l(e);
  }, "__wbg_view_3b708d3bdaf3fc96"), __wbg_webSocket_71791e807603b1e4: /* @__PURE__ */ __name(function(t) {
    let e = t.webSocket;
    return u(e) ? 0 : l(e);
  }, "__wbg_webSocket_71791e807603b1e4"), __wbindgen_generic_0000000000000001: /* @__PURE__ */ __name(function(t, e) {
    return Q(t, e, _t);
  }, "__wbindgen_generic_0000000000000001"), __wbindgen_generic_0000000000000002: /* @__PURE__ */ __name(function(t, e) {
    return Q(t, e, ot);
  }, "__wbindgen_generic_0000000000000002"), __wbindgen_generic_0000000000000003: /* @__PURE__ */ __name(function(t) {
    return t;
  }, "__wbindgen_generic_0000000000000003"), __wbindgen_generic_0000000000000004: /* @__PURE__ */ __name(function(t, e) {
    return w(t, e);
  }, "__wbindgen_generic_0000000000000004"), __wbindgen_generic_0000000000000005: /* @__PURE__ */ __name(function(t) {
    return BigInt.asUintN(64, t);
  }, "__wbindgen_generic_0000000000000005"), __wbindgen_init_externref_table: /* @__PURE__ */ __name(function() {
    let t = _.__wbindgen_externrefs;
    t.set(0, void 0), t.set(1024, void 0), t.set(1025, null), t.set(1026, true), t.set(1027, false);
  }, "__wbindgen_init_externref_table"), __wbindgen_jstag: WebAssembly.JSTag, __wbindgen_rethrow_critical: /* @__PURE__ */ __name(function(t) {
    throw new Error("Critical error", { cause: t });
  }, "__wbindgen_rethrow_critical") } };
}
__name(tt, "tt");
var C = new WebAssembly.Tag({ parameters: ["externref"] });
var D;
var U = false;
function et() {
  U = true;
  try {
    let r3 = N()[_.__abort_handler.value / 4];
    r3 && _.__wbindgen_export.get(r3)();
  } catch {
  }
}
__name(et, "et");
function c(r3) {
  throw r3 instanceof WebAssembly.Exception && r3.is(C) ? r3.getArg(C, 0) : (N()[D] = 1, et(), r3);
}
__name(c, "c");
function a() {
  if (D ??= _.__instance_terminated.value / 4, N()[D]) {
    if (U || et(), T) {
      O();
      return;
    }
    throw new Error("Module terminated");
  } else T && O();
}
__name(a, "a");
function _t(r3, t, e) {
  a();
  try {
    _.__wasm_bindgen_func_elem_984(r3, t, e);
  } catch (n) {
    c(n);
  }
}
__name(_t, "_t");
function it(r3, t, e, n) {
  a();
  try {
    _.__wasm_bindgen_func_elem_1727(r3, t, e, n);
  } catch (i) {
    c(i);
  }
}
__name(it, "it");
function ot(r3, t, e) {
  try {
    let s = _.__wbindgen_add_to_stack_pointer(-16) >>> 0;
    a();
    try {
      _.__wasm_bindgen_func_elem_1690(s, r3, t, e);
    } catch (b) {
      c(b);
    }
    var n = f().getInt32(s + 0, true), i = f().getInt32(s + 4, true);
    if (i) throw lt(n);
  } finally {
    _.__wbindgen_add_to_stack_pointer(16);
  }
}
__name(ot, "ot");
var st = ["bytes"];
var ct = ["default", "no-store", "reload", "no-cache", "force-cache", "only-if-cached"];
var at = ["follow", "error", "manual"];
var o = 0;
var ft = typeof FinalizationRegistry > "u" ? { register: /* @__PURE__ */ __name(() => {
}, "register"), unregister: /* @__PURE__ */ __name(() => {
}, "unregister") } : new FinalizationRegistry(({ ptr: r3, instance: t }) => {
  t === o && _.__wbg_containerstartupoptions_free(r3, 1);
});
var ut = typeof FinalizationRegistry > "u" ? { register: /* @__PURE__ */ __name(() => {
}, "register"), unregister: /* @__PURE__ */ __name(() => {
}, "unregister") } : new FinalizationRegistry(({ ptr: r3, instance: t }) => {
  t === o && _.__wbg_intounderlyingbytesource_free(r3, 1);
});
var bt = typeof FinalizationRegistry > "u" ? { register: /* @__PURE__ */ __name(() => {
}, "register"), unregister: /* @__PURE__ */ __name(() => {
}, "unregister") } : new FinalizationRegistry(({ ptr: r3, instance: t }) => {
  t === o && _.__wbg_intounderlyingsink_free(r3, 1);
});
var H = typeof FinalizationRegistry > "u" ? { register: /* @__PURE__ */ __name(() => {
}, "register"), unregister: /* @__PURE__ */ __name(() => {
}, "unregister") } : new FinalizationRegistry(({ ptr: r3, instance: t }) => {
  t === o && _.__wbg_intounderlyingsource_free(r3, 1);
});
var J = typeof FinalizationRegistry > "u" ? { register: /* @__PURE__ */ __name(() => {
}, "register"), unregister: /* @__PURE__ */ __name(() => {
}, "unregister") } : new FinalizationRegistry(({ ptr: r3, instance: t }) => {
  t === o && _.__wbg_minifyconfig_free(r3, 1);
});
var dt = typeof FinalizationRegistry > "u" ? { register: /* @__PURE__ */ __name(() => {
}, "register"), unregister: /* @__PURE__ */ __name(() => {
}, "unregister") } : new FinalizationRegistry(({ ptr: r3, instance: t }) => {
  t === o && _.__wbg_r2range_free(r3, 1);
});
function l(r3) {
  let t = _.__wbindgen_export5();
  return _.__wbindgen_externrefs.set(t, r3), t;
}
__name(l, "l");
var G = typeof FinalizationRegistry > "u" ? { register: /* @__PURE__ */ __name(() => {
}, "register"), unregister: /* @__PURE__ */ __name(() => {
}, "unregister") } : new FinalizationRegistry((r3) => {
  r3.instance === o && _.__wbindgen_export6(r3.a, r3.b);
});
function nt(r3) {
  switch (typeof r3) {
    case "number":
    case "boolean":
    case "undefined":
      return `${r3}`;
    case "string":
      return JSON.stringify(r3);
    case "bigint":
      return `${r3}n`;
    case "symbol":
      return r3.description !== void 0 ? `Symbol(${r3.description})` : "Symbol";
    case "function":
      return typeof r3.name == "string" && r3.name !== "" ? `Function(${r3.name})` : "Function";
    case "object": {
      if (r3 === null) return "null";
      if (Array.isArray(r3)) return "[" + Array.from(r3, nt).join(", ") + "]";
      if (r3 instanceof Error) return `${r3.name}: ${r3.message}
${r3.stack}`;
      let t = toString.call(r3), e = /\[object ([^\]]+)\]/.exec(t)?.[1];
      if (e === void 0) return t;
      if (e === "Object") try {
        return "Object(" + JSON.stringify(r3) + ")";
      } catch {
        return "Object";
      }
      return e;
    }
  }
}
__name(nt, "nt");
function gt(r3, t) {
  r3 = r3 >>> 0;
  let e = f(), n = [];
  for (let i = r3; i < r3 + 4 * t; i += 4) n.push(_.__wbindgen_externrefs.get(e.getUint32(i, true)));
  return _.__wbindgen_export7(r3, t), n;
}
__name(gt, "gt");
function K(r3, t) {
  return r3 = r3 >>> 0, j().subarray(r3 / 1, r3 / 1 + t);
}
__name(K, "K");
var m = null;
function f() {
  return (m === null || m.buffer.detached === true || m.buffer.detached === void 0 && m.buffer !== _.memory.buffer) && (m = new DataView(_.memory.buffer)), m;
}
__name(f, "f");
var R = null;
function N() {
  return (R === null || R.byteLength === 0) && (R = new Int32Array(_.memory.buffer)), R;
}
__name(N, "N");
function w(r3, t) {
  return r3 = r3 >>> 0, pt(j().subarray(r3, r3 + t));
}
__name(w, "w");
var F = null;
function j() {
  return (F === null || F.byteLength === 0) && (F = new Uint8Array(_.memory.buffer)), F;
}
__name(j, "j");
function u(r3) {
  return r3 == null;
}
__name(u, "u");
function Q(r3, t, e) {
  let n = { a: r3, b: t, cnt: 1, instance: o }, i = /* @__PURE__ */ __name((...s) => {
    if (n.instance !== o) throw new Error("Cannot invoke closure from previous WASM instance");
    n.cnt++;
    let b = n.a;
    n.a = 0;
    try {
      return e(b, n.b, ...s);
    } finally {
      n.a = b, i._wbg_cb_unref();
    }
  }, "i");
  return i._wbg_cb_unref = () => {
    --n.cnt === 0 && (_.__wbindgen_export6(n.a, n.b), n.a = 0, G.unregister(n));
  }, G.register(i, n, n), i;
}
__name(Q, "Q");
function wt(r3, t) {
  let e = t(r3.length * 4, 4) >>> 0;
  for (let n = 0; n < r3.length; n++) {
    let i = l(r3[n]);
    f().setUint32(e + 4 * n, i, true);
  }
  return g = r3.length, e;
}
__name(wt, "wt");
function h(r3, t, e) {
  if (e === void 0) {
    let d = W.encode(r3), p = t(d.length, 1) >>> 0;
    return j().subarray(p, p + d.length).set(d), g = d.length, p;
  }
  let n = r3.length, i = t(n, 1) >>> 0, s = j(), b = 0;
  for (; b < n; b++) {
    let d = r3.charCodeAt(b);
    if (d > 127) break;
    s[i + b] = d;
  }
  if (b !== n) {
    b !== 0 && (r3 = r3.slice(b)), i = e(i, n, n = b + r3.length * 3, 1) >>> 0;
    let d = j().subarray(i + b, i + n), p = W.encodeInto(r3, d);
    b += p.written, i = e(i, n, b, 1) >>> 0;
  }
  return g = b, i;
}
__name(h, "h");
var T = false;
function lt(r3) {
  let t = _.__wbindgen_externrefs.get(r3);
  return _.__wbindgen_export8(r3), t;
}
__name(lt, "lt");
var rt = new TextDecoder("utf-8", { ignoreBOM: true });
rt.decode();
function pt(r3) {
  return rt.decode(r3);
}
__name(pt, "pt");
var W = new TextEncoder();
"encodeInto" in W || (W.encodeInto = function(r3, t) {
  let e = W.encode(r3);
  return t.set(e), { read: r3.length, written: e.length };
});
var g = 0;
var q = new WebAssembly.Instance(X, tt());
var _ = q.exports;
_.__wbindgen_start();
Error.stackTraceLimit = 100;
var y = Y();
function $() {
  y.criticalError && (console.log("Reinitializing Wasm application"), O(), y.criticalError = false, y.instanceId++);
}
__name($, "$");
addEventListener("error", (r3) => {
  B(r3.error);
});
function B(r3) {
  r3 instanceof WebAssembly.RuntimeError && (console.error("Critical", r3), y.criticalError = true);
}
__name(B, "B");
var z = class extends yt {
  static {
    __name(this, "z");
  }
};
z.prototype.fetch = function(t) {
  return Z.call(this, t, this.env, this.ctx);
};
var mt = { set: /* @__PURE__ */ __name((r3, t, e, n) => Reflect.set(r3.instance, t, e, n), "set"), has: /* @__PURE__ */ __name((r3, t) => Reflect.has(r3.instance, t), "has"), deleteProperty: /* @__PURE__ */ __name((r3, t) => Reflect.deleteProperty(r3.instance, t), "deleteProperty"), apply: /* @__PURE__ */ __name((r3, t, e) => Reflect.apply(r3.instance, t, e), "apply"), construct: /* @__PURE__ */ __name((r3, t, e) => Reflect.construct(r3.instance, t, e), "construct"), getPrototypeOf: /* @__PURE__ */ __name((r3) => Reflect.getPrototypeOf(r3.instance), "getPrototypeOf"), setPrototypeOf: /* @__PURE__ */ __name((r3, t) => Reflect.setPrototypeOf(r3.instance, t), "setPrototypeOf"), isExtensible: /* @__PURE__ */ __name((r3) => Reflect.isExtensible(r3.instance), "isExtensible"), preventExtensions: /* @__PURE__ */ __name((r3) => Reflect.preventExtensions(r3.instance), "preventExtensions"), getOwnPropertyDescriptor: /* @__PURE__ */ __name((r3, t) => Reflect.getOwnPropertyDescriptor(r3.instance, t), "getOwnPropertyDescriptor"), defineProperty: /* @__PURE__ */ __name((r3, t, e) => Reflect.defineProperty(r3.instance, t, e), "defineProperty"), ownKeys: /* @__PURE__ */ __name((r3) => Reflect.ownKeys(r3.instance), "ownKeys") };
var P = { construct(r3, t, e) {
  try {
    $();
    let n = { instance: Reflect.construct(r3, t, e), instanceId: y.instanceId, ctor: r3, args: t, newTarget: e };
    return new Proxy(n, { ...mt, get(i, s, b) {
      i.instanceId !== y.instanceId && (i.instance = Reflect.construct(i.ctor, i.args, i.newTarget), i.instanceId = y.instanceId);
      let d = Reflect.get(i.instance, s, b);
      return typeof d != "function" ? d : d.constructor === Function ? new Proxy(d, { apply(p, M, L) {
        $();
        try {
          return p.apply(M, L);
        } catch (E) {
          throw B(E), E;
        }
      } }) : new Proxy(d, { async apply(p, M, L) {
        $();
        try {
          return await p.apply(M, L);
        } catch (E) {
          throw B(E), E;
        }
      } });
    } });
  } catch (n) {
    throw y.criticalError = true, n;
  }
} };
var Rt = new Proxy(z, P);
var Ft = new Proxy(v, P);
var jt = new Proxy(x, P);
var Wt = new Proxy(I, P);

// ../../www/worker.mjs
var inflight = /* @__PURE__ */ new Set();
globalThis.__vitrine_on_panic = () => {
  for (const fail of inflight) fail(new Error("Rust panic"));
  inflight.clear();
};
function origin(request, env) {
  if (env.ORIGIN_URL) {
    const url = new URL(request.url);
    const target = env.ORIGIN_URL.replace(/\/$/, "") + url.pathname + url.search;
    return fetch(new Request(target, request), { redirect: "manual" });
  }
  return env.ASSETS.fetch(request);
}
__name(origin, "origin");
var worker_default = class extends Rt {
  static {
    __name(this, "default");
  }
  async fetch(request) {
    const retry = request.method === "GET" || request.method === "HEAD" ? request.clone() : null;
    let fail;
    const failed = new Promise((_2, reject) => fail = reject);
    inflight.add(fail);
    try {
      return await Promise.race([super.fetch(request), failed]);
    } catch (err) {
      console.error("vitrine: worker failed, serving the origin response:", String(err && err.message || err));
      if (retry === null) throw err;
      return origin(retry, this.env);
    } finally {
      inflight.delete(fail);
    }
  }
};

// ../../node_modules/wrangler/templates/middleware/middleware-ensure-req-body-drained.ts
var drainBody = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } finally {
    try {
      if (request.body !== null && !request.bodyUsed) {
        const reader = request.body.getReader();
        while (!(await reader.read()).done) {
        }
      }
    } catch (e) {
      console.error("Failed to drain the unused request body.", e);
    }
  }
}, "drainBody");
var middleware_ensure_req_body_drained_default = drainBody;

// ../../node_modules/wrangler/templates/middleware/middleware-miniflare3-json-error.ts
function reduceError(e) {
  return {
    name: e?.name,
    message: e?.message ?? String(e),
    stack: e?.stack,
    cause: e?.cause === void 0 ? void 0 : reduceError(e.cause)
  };
}
__name(reduceError, "reduceError");
var jsonError = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } catch (e) {
    const error = reduceError(e);
    return Response.json(error, {
      status: 500,
      headers: { "MF-Experimental-Error-Stack": "true" }
    });
  }
}, "jsonError");
var middleware_miniflare3_json_error_default = jsonError;

// .wrangler/tmp/bundle-wt4aa0/middleware-insertion-facade.js
var __INTERNAL_WRANGLER_MIDDLEWARE__ = [
  middleware_ensure_req_body_drained_default,
  middleware_miniflare3_json_error_default
];
var middleware_insertion_facade_default = worker_default;

// ../../node_modules/wrangler/templates/middleware/common.ts
var __facade_middleware__ = [];
function __facade_register__(...args) {
  __facade_middleware__.push(...args.flat());
}
__name(__facade_register__, "__facade_register__");
function __facade_invokeChain__(request, env, ctx, dispatch, middlewareChain) {
  const [head, ...tail] = middlewareChain;
  const middlewareCtx = {
    dispatch,
    next(newRequest, newEnv) {
      return __facade_invokeChain__(newRequest, newEnv, ctx, dispatch, tail);
    }
  };
  return head(request, env, ctx, middlewareCtx);
}
__name(__facade_invokeChain__, "__facade_invokeChain__");
function __facade_invoke__(request, env, ctx, dispatch, finalMiddleware) {
  return __facade_invokeChain__(request, env, ctx, dispatch, [
    ...__facade_middleware__,
    finalMiddleware
  ]);
}
__name(__facade_invoke__, "__facade_invoke__");

// .wrangler/tmp/bundle-wt4aa0/middleware-loader.entry.ts
var __Facade_ScheduledController__ = class ___Facade_ScheduledController__ {
  constructor(scheduledTime, cron, noRetry) {
    this.scheduledTime = scheduledTime;
    this.cron = cron;
    this.#noRetry = noRetry;
  }
  static {
    __name(this, "__Facade_ScheduledController__");
  }
  #noRetry;
  noRetry() {
    if (!(this instanceof ___Facade_ScheduledController__)) {
      throw new TypeError("Illegal invocation");
    }
    this.#noRetry();
  }
};
function wrapExportedHandler(worker) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return worker;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  const fetchDispatcher = /* @__PURE__ */ __name(function(request, env, ctx) {
    if (worker.fetch === void 0) {
      throw new Error("Handler does not export a fetch() function.");
    }
    return worker.fetch(request, env, ctx);
  }, "fetchDispatcher");
  return {
    ...worker,
    fetch(request, env, ctx) {
      const dispatcher = /* @__PURE__ */ __name(function(type, init) {
        if (type === "scheduled" && worker.scheduled !== void 0) {
          const controller = new __Facade_ScheduledController__(
            Date.now(),
            init.cron ?? "",
            () => {
            }
          );
          return worker.scheduled(controller, env, ctx);
        }
      }, "dispatcher");
      return __facade_invoke__(request, env, ctx, dispatcher, fetchDispatcher);
    }
  };
}
__name(wrapExportedHandler, "wrapExportedHandler");
function wrapWorkerEntrypoint(klass) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return klass;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  return class extends klass {
    #fetchDispatcher = /* @__PURE__ */ __name((request, env, ctx) => {
      this.env = env;
      this.ctx = ctx;
      if (super.fetch === void 0) {
        throw new Error("Entrypoint class does not define a fetch() function.");
      }
      return super.fetch(request);
    }, "#fetchDispatcher");
    #dispatcher = /* @__PURE__ */ __name((type, init) => {
      if (type === "scheduled" && super.scheduled !== void 0) {
        const controller = new __Facade_ScheduledController__(
          Date.now(),
          init.cron ?? "",
          () => {
          }
        );
        return super.scheduled(controller);
      }
    }, "#dispatcher");
    fetch(request) {
      return __facade_invoke__(
        request,
        this.env,
        this.ctx,
        this.#dispatcher,
        this.#fetchDispatcher
      );
    }
  };
}
__name(wrapWorkerEntrypoint, "wrapWorkerEntrypoint");
var WRAPPED_ENTRY;
if (typeof middleware_insertion_facade_default === "object") {
  WRAPPED_ENTRY = wrapExportedHandler(middleware_insertion_facade_default);
} else if (typeof middleware_insertion_facade_default === "function") {
  WRAPPED_ENTRY = wrapWorkerEntrypoint(middleware_insertion_facade_default);
}
var middleware_loader_entry_default = WRAPPED_ENTRY;
export {
  __INTERNAL_WRANGLER_MIDDLEWARE__,
  middleware_loader_entry_default as default
};
//# sourceMappingURL=worker.js.map
