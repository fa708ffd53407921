// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * mapops.c - the poll benchmark's own map access, kept out of the agent's addon (nothing in production writes
 * its maps or looks keys up one by one): a small N-API module, built by bench/poll.ts, working on a map by the
 * fd the agent's addon reports (BpfObject.map(name).fd).
 *
 *   update(fd, keys: Uint8Array, values: Uint8Array, count) -> number written: one batch update (pre-fill; a
 *       per-CPU map takes one value per possible CPU for each key, each rounded up to 8 bytes)
 *   lookup(fd, keys: Uint8Array, keySize, valueSize, perCpu) -> { found: Uint8Array, values: ArrayBuffer }:
 *       one lookup per key with per-CPU u64 lanes summed, in one N-API call: the per-key baseline the agent's
 *       batch read (readMap) is measured against
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static napi_value fail(napi_env env, const char *message)
{
	napi_throw_error(env, NULL, message);
	return NULL;
}

static bool bytes(napi_env env, napi_value value, uint8_t **data, size_t *length)
{
	napi_typedarray_type type;
	napi_value buffer;
	size_t offset;

	if (napi_get_typedarray_info(env, value, &type, length, (void **)data, &buffer, &offset) != napi_ok)
		return false;
	return type == napi_uint8_array;
}

static bool u32(napi_env env, napi_value value, uint32_t *out)
{
	return napi_get_value_uint32(env, value, out) == napi_ok;
}

static napi_value update(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4], result;
	uint8_t *keys, *values;
	size_t keys_len, values_len;
	uint32_t fd, count;

	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	if (argc != 4 || !u32(env, argv[0], &fd) || !bytes(env, argv[1], &keys, &keys_len) ||
	    !bytes(env, argv[2], &values, &values_len) || !u32(env, argv[3], &count))
		return fail(env, "update(fd, keys: Uint8Array, values: Uint8Array, count)");
	__u32 n = count;
	int err = bpf_map_update_batch((int)fd, keys, values, &n, NULL);
	if (err != 0)
		return fail(env, strerror(-err));
	napi_create_uint32(env, n, &result);
	return result;
}

static napi_value lookup(napi_env env, napi_callback_info info)
{
	size_t argc = 5;
	napi_value argv[5], result, found_buffer, found, values;
	uint8_t *keys, *out, *hit;
	size_t keys_len;
	uint32_t fd, key_size, value_size;
	bool per_cpu;

	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	if (argc != 5 || !u32(env, argv[0], &fd) || !bytes(env, argv[1], &keys, &keys_len) ||
	    !u32(env, argv[2], &key_size) || !u32(env, argv[3], &value_size) ||
	    napi_get_value_bool(env, argv[4], &per_cpu) != napi_ok || key_size == 0 || value_size % 8 != 0)
		return fail(env, "lookup(fd, keys: Uint8Array, keySize, valueSize (u64 lanes), perCpu)");
	size_t n = keys_len / key_size, ncpu = per_cpu ? (size_t)libbpf_num_possible_cpus() : 1;
	uint8_t *raw = malloc(value_size * ncpu);
	if (raw == NULL)
		return fail(env, "out of memory");
	napi_create_arraybuffer(env, n, (void **)&hit, &found_buffer);
	napi_create_typedarray(env, napi_uint8_array, n, found_buffer, 0, &found);
	napi_create_arraybuffer(env, n * value_size, (void **)&out, &values);
	for (size_t i = 0; i < n; i++) {
		hit[i] = bpf_map_lookup_elem((int)fd, keys + i * key_size, raw) == 0;
		for (size_t lane = 0; lane < value_size / 8; lane++) {
			uint64_t sum = 0, v;

			for (size_t cpu = 0; hit[i] && cpu < ncpu; cpu++) {
				memcpy(&v, raw + cpu * value_size + lane * 8, 8);
				sum += v;
			}
			memcpy(out + i * value_size + lane * 8, &sum, 8);
		}
	}
	free(raw);
	napi_create_object(env, &result);
	napi_set_named_property(env, result, "found", found);
	napi_set_named_property(env, result, "values", values);
	return result;
}

NAPI_MODULE_INIT()
{
	napi_value fn;

	napi_create_function(env, "update", NAPI_AUTO_LENGTH, update, NULL, &fn);
	napi_set_named_property(env, exports, "update", fn);
	napi_create_function(env, "lookup", NAPI_AUTO_LENGTH, lookup, NULL, &fn);
	napi_set_named_property(env, exports, "lookup", fn);
	return exports;
}
