/* copy_family.c — one call of each copy kind the shim hooks beyond the linear ones:
 * partial 3D copies (runtime, driver peer), 3D batches (runtime, driver), a 3D memset,
 * and the CUDA array copies of both APIs. Under the shim it registers the device
 * ranges the 3D copies and the array-to-device copies write as F32 tensors (through
 * dlsym, so it runs without the shim too). Prints "copy_family: ok" when every call
 * succeeded and read back what it wrote; the e2e test checks the trace. Driver calls
 * go through dlsym of libcuda, as frameworks on the driver API make them.
 */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

typedef int (*register_fn)(const char *, const char *, uint64_t, const char *, int, const int64_t *,
                           const int64_t *);

static int failed;

/* cuda_runtime_api.h leaves make_cudaPitchedPtr and friends to driver_functions.h (C++). */
#define PITCHED(p_, pitch_, xs_, ys_) \
	((struct cudaPitchedPtr){ .ptr = (p_), .pitch = (pitch_), .xsize = (xs_), .ysize = (ys_) })
#define POS(x_, y_, z_)    ((struct cudaPos){ .x = (x_), .y = (y_), .z = (z_) })
#define EXTENT(w_, h_, d_) ((struct cudaExtent){ .width = (w_), .height = (h_), .depth = (d_) })

#define CK(what, call)                                                                \
	do {                                                                          \
		int rc_ = (int)(call);                                                \
		if (rc_) {                                                            \
			fprintf(stderr, "copy_family: %s failed: %d\n", (what), rc_); \
			failed = 1;                                                   \
		}                                                                     \
	} while (0)

/* A device volume: DEPTH slices of ROWS rows of PITCH bytes (16 floats a row). */
#define PITCH 64
#define ROWS  8
#define DEPTH 4
#define VOL   (PITCH * ROWS * DEPTH)

static void *dev_volume(register_fn reg, const char *name)
{
	void *p = NULL;
	const int64_t shape[3] = { DEPTH, ROWS, PITCH / 4 };

	CK("cudaMalloc", cudaMalloc(&p, VOL));
	CK("cudaMemset", cudaMemset(p, 0, VOL));
	if (reg && p)
		CK("register", reg("fam", name, (uint64_t)(uintptr_t)p, "F32", 3, shape, NULL));
	return p;
}

/* The partial box every 3D copy here writes: x from 16 bytes, 32 bytes wide, rows
 * 2..4 of slices 1..2 (48 floats). */
#define BOX_X 16
#define BOX_W 32
#define BOX_Y 2
#define BOX_H 3
#define BOX_Z 1
#define BOX_D 2

static unsigned char host[VOL];

static void runtime_3d(void *vol)
{
	struct cudaMemcpy3DParms p = { 0 };

	p.srcPtr = PITCHED(host, PITCH, PITCH, ROWS);
	p.dstPtr = PITCHED(vol, PITCH, PITCH, ROWS);
	p.srcPos = POS(BOX_X, BOX_Y, BOX_Z);
	p.dstPos = POS(BOX_X, BOX_Y, BOX_Z);
	p.extent = EXTENT(BOX_W, BOX_H, BOX_D);
	p.kind = cudaMemcpyHostToDevice;
	CK("cudaMemcpy3D", cudaMemcpy3D(&p));
}

static void driver_3d_peer(void *cuda, void *dst, void *src)
{
	CUresult (*peer)(const CUDA_MEMCPY3D_PEER *) = dlsym(cuda, "cuMemcpy3DPeer");
	CUresult (*cur)(CUcontext *) = dlsym(cuda, "cuCtxGetCurrent");
	CUDA_MEMCPY3D_PEER p = { 0 };
	CUcontext ctx = NULL;

	if (!peer || !cur || cur(&ctx)) {
		failed = 1;
		return;
	}
	p.srcMemoryType = p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	p.srcDevice = (CUdeviceptr)(uintptr_t)src;
	p.dstDevice = (CUdeviceptr)(uintptr_t)dst;
	p.srcContext = p.dstContext = ctx;
	p.srcXInBytes = p.dstXInBytes = BOX_X;
	p.srcY = p.dstY = BOX_Y;
	p.srcZ = p.dstZ = BOX_Z;
	p.srcPitch = p.dstPitch = PITCH;
	p.srcHeight = p.dstHeight = ROWS;
	p.WidthInBytes = BOX_W;
	p.Height = BOX_H;
	p.Depth = BOX_D;
	CK("cuMemcpy3DPeer", peer(&p));
}

/* Where the box starts in a volume. */
static uint64_t box_at(const void *vol)
{
	return (uint64_t)(uintptr_t)vol + ((uint64_t)BOX_Z * ROWS + BOX_Y) * PITCH + BOX_X;
}

static void runtime_batch_3d(void *vol, cudaStream_t s)
{
	struct cudaMemcpy3DBatchOp op = { 0 };

	op.src.type = cudaMemcpyOperandTypePointer;
	op.src.op.ptr.ptr = host;
	op.src.op.ptr.rowLength = PITCH;
	op.src.op.ptr.layerHeight = ROWS;
	op.dst = op.src;
	op.dst.op.ptr.ptr = (void *)(uintptr_t)box_at(vol);
	op.extent = EXTENT(BOX_W, BOX_H, BOX_D);
	op.srcAccessOrder = cudaMemcpySrcAccessOrderStream;
	CK("cudaMemcpy3DBatchAsync", cudaMemcpy3DBatchAsync(1, &op, 0, s));
}

static void driver_batch_3d(void *cuda, void *vol, cudaStream_t s)
{
	CUresult (*batch)(size_t, CUDA_MEMCPY3D_BATCH_OP *, unsigned long long, CUstream) =
	        dlsym(cuda, "cuMemcpy3DBatchAsync_v2");
	CUDA_MEMCPY3D_BATCH_OP op = { 0 };

	if (!batch) {
		failed = 1;
		return;
	}
	op.src.type = CU_MEMCPY_OPERAND_TYPE_POINTER;
	op.src.op.ptr.ptr = (CUdeviceptr)(uintptr_t)host;
	op.src.op.ptr.rowLength = PITCH;
	op.src.op.ptr.layerHeight = ROWS;
	op.dst = op.src;
	op.dst.op.ptr.ptr = box_at(vol);
	op.extent = (CUextent3D){ BOX_W, BOX_H, BOX_D };
	op.srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
	CK("cuMemcpy3DBatchAsync_v2", batch(1, &op, 0, (CUstream)s));
}

static void memset_3d(void)
{
	void *p = NULL;

	CK("cudaMalloc", cudaMalloc(&p, VOL));
	CK("cudaMemset3D", cudaMemset3D(PITCHED(p, PITCH, PITCH, ROWS), 7, EXTENT(BOX_W, BOX_H, BOX_D)));
	CK("cudaFree", cudaFree(p));
}

/* Runtime array copies: an array of 64 floats x 4 rows (256-byte rows). */
static void runtime_arrays(void *to_dev, cudaStream_t s)
{
	struct cudaChannelFormatDesc f = { .x = 32, .f = cudaChannelFormatKindFloat };
	cudaArray_t a = NULL, b = NULL;
	unsigned char back[1024];

	CK("cudaMallocArray", cudaMallocArray(&a, &f, 64, 4, 0));
	CK("cudaMallocArray", cudaMallocArray(&b, &f, 64, 4, 0));
	CK("cudaMemcpyToArray", cudaMemcpyToArray(a, 0, 0, host, 256, cudaMemcpyHostToDevice));
	CK("cudaMemcpyToArrayAsync", cudaMemcpyToArrayAsync(a, 0, 1, host, 256, cudaMemcpyHostToDevice, s));
	CK("cudaMemcpy2DToArray",
	   cudaMemcpy2DToArray(a, 0, 2, host, 2 * PITCH, 128, 2, cudaMemcpyHostToDevice));
	CK("cudaMemcpyFromArray", cudaMemcpyFromArray(back, a, 0, 0, 512, cudaMemcpyDeviceToHost));
	CK("cudaMemcpy2DFromArray",
	   cudaMemcpy2DFromArray(to_dev, PITCH, a, 0, 0, PITCH, ROWS / 2, cudaMemcpyDeviceToDevice));
	CK("cudaMemcpyArrayToArray", cudaMemcpyArrayToArray(b, 0, 0, a, 0, 0, 256, cudaMemcpyDeviceToDevice));
	CK("cudaMemcpy2DArrayToArray",
	   cudaMemcpy2DArrayToArray(b, 0, 1, a, 0, 1, 64, 3, cudaMemcpyDeviceToDevice));
	if (memcmp(back, host, 256))
		failed = 1, fprintf(stderr, "copy_family: array read back differs\n");
	CK("cudaFreeArray", cudaFreeArray(a));
	CK("cudaFreeArray", cudaFreeArray(b));
}

/* Driver array copies, on a 1D array of 256 bytes. */
static void driver_arrays(void *cuda, void *to_dev, cudaStream_t s)
{
	CUresult (*create)(CUarray *, const CUDA_ARRAY_DESCRIPTOR *) = dlsym(cuda, "cuArrayCreate_v2");
	CUresult (*destroy)(CUarray) = dlsym(cuda, "cuArrayDestroy");
	CUresult (*htoa)(CUarray, size_t, const void *, size_t) = dlsym(cuda, "cuMemcpyHtoA_v2");
	CUresult (*atoh)(void *, CUarray, size_t, size_t) = dlsym(cuda, "cuMemcpyAtoH_v2");
	CUresult (*atod)(CUdeviceptr, CUarray, size_t, size_t) = dlsym(cuda, "cuMemcpyAtoD_v2");
	CUresult (*dtoa)(CUarray, size_t, CUdeviceptr, size_t) = dlsym(cuda, "cuMemcpyDtoA_v2");
	CUresult (*atoa)(CUarray, size_t, CUarray, size_t, size_t) = dlsym(cuda, "cuMemcpyAtoA_v2");
	CUresult (*htoa_async)(CUarray, size_t, const void *, size_t, CUstream) =
	        dlsym(cuda, "cuMemcpyHtoAAsync_v2");
	CUresult (*atoh_async)(void *, CUarray, size_t, size_t, CUstream) =
	        dlsym(cuda, "cuMemcpyAtoHAsync_v2");
	CUDA_ARRAY_DESCRIPTOR d = {
		.Width = 256, .Height = 0, .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 1
	};
	CUarray a = NULL, b = NULL;
	unsigned char back[256];
	CUdeviceptr dev = (CUdeviceptr)(uintptr_t)to_dev;

	if (!create || !destroy || !htoa || !atoh || !atod || !dtoa || !atoa || !htoa_async || !atoh_async) {
		failed = 1;
		return;
	}
	CK("cuArrayCreate_v2", create(&a, &d));
	CK("cuArrayCreate_v2", create(&b, &d));
	CK("cuMemcpyHtoA_v2", htoa(a, 0, host, 256));
	CK("cuMemcpyHtoAAsync_v2", htoa_async(a, 128, host, 64, (CUstream)s));
	CK("cuMemcpyAtoH_v2", atoh(back, a, 0, 128));
	CK("cuMemcpyAtoHAsync_v2", atoh_async(back + 128, a, 128, 64, (CUstream)s));
	CK("cuMemcpyAtoD_v2", atod(dev, a, 0, 256));
	CK("cuMemcpyDtoA_v2", dtoa(b, 0, dev, 192));
	CK("cuMemcpyAtoA_v2", atoa(b, 64, a, 0, 32));
	if (memcmp(back, host, 128))
		failed = 1, fprintf(stderr, "copy_family: driver array read back differs\n");
	CK("cuArrayDestroy", destroy(a));
	CK("cuArrayDestroy", destroy(b));
}

int main(void)
{
	register_fn reg = (register_fn)dlsym(RTLD_DEFAULT, "metashim_register_tensor");
	void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
	cudaStream_t s = NULL;
	void *v3d, *vpeer, *vrb, *vdb, *vfa, *vad;

	for (size_t i = 0; i < sizeof(host); i++)
		host[i] = (unsigned char)(i * 7 + 1);
	if (!cuda || cudaStreamCreate(&s))
		return fprintf(stderr, "copy_family: no CUDA\n"), 1;
	v3d = dev_volume(reg, "fam.rt3d");
	vpeer = dev_volume(reg, "fam.peer3d");
	vrb = dev_volume(reg, "fam.rtbatch3d");
	vdb = dev_volume(reg, "fam.drvbatch3d");
	vfa = dev_volume(reg, "fam.from_array");
	vad = dev_volume(reg, "fam.atod");
	runtime_3d(v3d);
	driver_3d_peer(cuda, vpeer, v3d);
	runtime_batch_3d(vrb, s);
	driver_batch_3d(cuda, vdb, s);
	memset_3d();
	runtime_arrays(vfa, s);
	driver_arrays(cuda, vad, s);
	CK("cudaStreamSynchronize", cudaStreamSynchronize(s));
	if (!failed)
		printf("copy_family: ok\n");
	return failed;
}
