/* trace_format.h — the metashim trace, shared by the shim (writer) and the
 * analysis tool (reader). The prose version is shim/TRACE_FORMAT.md; the two
 * change together, and MS_TRACE_VERSION goes up on any incompatible change.
 *
 * A trace is UTF-8 text, one record per line:
 *
 *     metashim-trace 1                      <- first line: magic and format version
 *     TYPE key=value key=value ...          <- every further line
 *
 * Keys are lower-case words; a reader ignores keys it does not know (so fields may
 * be added without a version bump) and records of unknown TYPE (same reason).
 * Values never contain space, '=' or newline: strings are percent-encoded
 * (bytes <= 0x20, '%', '=', 0x7f as %XX), numbers are unsigned decimal unless the
 * field says otherwise, addresses are 0x-prefixed lower-case hex; an empty string
 * is written as `key=` (nothing after '='). Times `t` are ns
 * since the header's start (CLOCK_MONOTONIC), `dur` is ns. A trace that lacks the
 * `footer` record was cut short (crash, kill); every whole line before the cut is
 * valid. */
#ifndef METASHIM_TRACE_FORMAT_H
#define METASHIM_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define MS_TRACE_MAGIC   "metashim-trace"
#define MS_TRACE_VERSION 1

/* Record types (the first word of a line) and their fields.
 *
 * header  fmt shim pid ppid rank world host exe argv cwd wall_ns mode
 *         rank/world are decimal or -1; argv is the command line joined by spaces
 *         before encoding; wall_ns is CLOCK_REALTIME at start; mode is trace|meta|layerwise.
 * option  key value                        one per METASHIM_* setting in force
 * module  id base end path buildid         a loaded ELF object (buildid hex or -)
 * stack   id parent pc                     a stack trie node: frame pc under parent
 *                                           (parent 0 is the root); an event's
 *                                           `stack` names its innermost... outermost
 *                                           chain by following parents to 0
 * layer   id name                          a descriptor layer
 * tensor  id layer name dtype esize shape stride elems skip [file foff flen] [dev]
 *         shape/stride: comma-separated decimal ("" encoded as -) for scalars;
 *         file: path, foff/flen: byte range in the file; dev: device address if bound
 * bind    t tensor dev seq                  a tensor's device range learnt from copy `seq`
 * alloc   seq t dur tid api ptr bytes stream rc stack [handle] [map] [deferred]
 * free    seq t dur tid api ptr bytes stream rc stack [handle] [map]
 *         rc: the call's result (0 = success), decimal; free bytes is 0 when the
 *         call does not say (match ptr with its alloc). handle=1 (cuMemCreate,
 *         cuMemRelease): ptr is the physical allocation handle, not an address;
 *         map=1 (cuMemMap, cuMemUnmap): gives addresses to memory already counted
 *         by its handle=1 alloc, so it is not memory of its own in totals.
 * copy    seq t dur tid api dir dst src bytes stream rc stack [rows dpitch spitch]
 *         [depth dslice sslice] [array] [deferred]
 *         dir: H2D D2H D2D H2H P2P; bytes is the whole copy (width*rows*depth);
 *         a whole pitched 3D volume is written as rows = height*depth, a partial
 *         extent adds depth slices dslice/sslice bytes apart; array=1|2|3: dst,
 *         src or both are CUDA array handles, not addresses (never attributed);
 *         dst/src 0x0 when not known (a symbol the runtime could not resolve). A
 *         batch copy writes one copy record per element, each with the call's t, rc.
 * memset  seq t dur tid api dst bytes value stream rc stack [rows width pitch] [depth slice]
 *         2D memsets: rows of width bytes, pitch apart; 3D ones that do not cover
 *         whole slices add depth slices, slice bytes apart; bytes = width*rows*depth
 * attr    seq tensor off elems copied      part of copy `seq` landing in tensor
 *                                           elements [off, off+elems); copied = the
 *                                           tensor's running copied count
 * unattr  seq bytes                         bytes of a host-to-device copy no tensor claims
 * problem seq kind tensor detail           kind: misaligned straddle
 * complete t seq layer loads                layer became complete (the loads-th time)
 * mark    t tid name
 * launch  t tid api deferred                a kernel launched while deferred memory exists
 * mem     t reserved materialized staged scratch [backup]   memory accounting, bytes
 * materialize t dur layer bytes copies ok [why]  a layer got real memory, `copies` replayed;
 *         why: api|staging|restore|finalize (absent: at completion)
 * release t layer bytes backup
 * warn    t msg                             something the user should know (feature disabled, ...)
 * final   tensor copied covered             per-tensor totals at exit
 * footer  t events dropped                  clean end of the trace; events = sequence
 *                                           numbers handed out, dropped = records
 *                                           lost (tracing turned off, after the end)
 */

#define MS_REC_HEADER      "header"
#define MS_REC_OPTION      "option"
#define MS_REC_MODULE      "module"
#define MS_REC_STACK       "stack"
#define MS_REC_LAYER       "layer"
#define MS_REC_TENSOR      "tensor"
#define MS_REC_BIND        "bind"
#define MS_REC_ALLOC       "alloc"
#define MS_REC_FREE        "free"
#define MS_REC_COPY        "copy"
#define MS_REC_MEMSET      "memset"
#define MS_REC_ATTR        "attr"
#define MS_REC_UNATTR      "unattr"
#define MS_REC_PROBLEM     "problem"
#define MS_REC_COMPLETE    "complete"
#define MS_REC_MARK        "mark"
#define MS_REC_LAUNCH      "launch"
#define MS_REC_MEM         "mem"
#define MS_REC_MATERIALIZE "materialize"
#define MS_REC_RELEASE     "release"
#define MS_REC_WARN        "warn"
#define MS_REC_FINAL       "final"
#define MS_REC_FOOTER      "footer"

/* Copy directions, as written in `dir`. */
enum ms_dir { MS_DIR_H2D, MS_DIR_D2H, MS_DIR_D2D, MS_DIR_H2H, MS_DIR_P2P, MS_DIR_COUNT };
static const char *const ms_dir_names[MS_DIR_COUNT] = { "H2D", "D2H", "D2D", "H2H", "P2P" };

/* Longest line a writer emits; readers accept lines up to MS_TRACE_MAX_LINE. */
#define MS_TRACE_MAX_LINE 8192

/* Percent-encode src (len bytes) into dst (cap bytes, NUL-terminated); returns the
 * encoded length, or the length it would have had when dst is too small. */
size_t ms_trace_encode(char *dst, size_t cap, const char *src, size_t len);
/* Decode in place; returns the decoded length or -1 on a malformed %XX. */
long ms_trace_decode(char *s);

#endif /* METASHIM_TRACE_FORMAT_H */
