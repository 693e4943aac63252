/*
 * s3check: does a virtio-gpu device keep its state across system sleep?
 *
 * Run by the test guest's /init on the serial console.  At start it sets
 * a mode on the first connected connector of /dev/dri/card0, scanning out
 * a dumb framebuffer with test pattern 0, and, with virgl
 * (VIRTGPU_PARAM_3D_FEATURES), creates texture 0: a 64x64 3D resource
 * filled with TRANSFER_TO_HOST and read back.  Then it prints
 * "s3check: READY" and takes numbered commands from the host on stdin,
 * one a line, "N COMMAND [ARG]":
 *
 *   paint K      draw test pattern K into the framebuffer and flush it to
 *                the host (DIRTYFB): what the host shows must change
 *   texture K    create texture K, filled with its own content, upload it
 *                and read it back
 *   refill K     fill texture 0 with the content of texture K, upload it
 *                and read it back (rendering between cycles that does not
 *                make the guest grow)
 *   blob K       with virgl, blob resources and host-visible memory: the
 *                first time, create a HOST3D blob (a pipe buffer made with
 *                EXECBUFFER, then RESOURCE_CREATE_BLOB), map it into the
 *                host-visible memory (VIRTGPU_MAP, mmap), fill it with
 *                content K through the mapping and read it back; after
 *                that, fill the same blob with content K.  "check" reads
 *                the blob through its mapping: after a device lost it,
 *                the guest driver unmaps it, and the access faults (the
 *                SIGBUS is caught and reported)
 *   resources MB create 2D resources (dumb buffers) of MB MiB in all,
 *                filled and uploaded (TRANSFER_TO_HOST): what a guest
 *                would have to upload again if the device lost them
 *   check        is the framebuffer still on the CRTC, and does every
 *                texture read back what was uploaded?
 *   sleep MODE S suspend with 'rtcwake -m MODE -s S' (MODE mem: suspend
 *                to RAM; freeze: suspend to idle), then "check"
 *   sleep MODE S nocheck
 *                the same without "check" (a driver that cannot resume
 *                would leave the checks waiting forever)
 *   sleep MODE S reupload
 *                "check", then upload every resource of "resources" again
 *                (what a guest does when the device lost them)
 *
 * After a suspend to RAM, "sleep" also prints the time from the kernel's
 * "Low-level resume complete" to the first good frame (the framebuffer
 * flushed, texture 0 read back right, and with "reupload" the resources
 * uploaded again), both taken from the kernel log's own timestamps; after
 * a suspend to idle the same from "resume from suspend-to-idle", which the
 * kernel logs with /sys/power/pm_debug_messages on:
 *   s3check: TIME resume-to-frame MS
 *   write FILE VALUE
 *                write VALUE to FILE (sysfs, debugfs): PASS, or FAIL with
 *                the error (e.g. a refused hibernation)
 *   reopen       close the card (every mapping first) and open it again
 *                (the first /dev/dri/cardN there is, when the old one went
 *                away), set the mode with pattern 0 and, with virgl, create
 *                texture 0 again: after the driver was bound again, or
 *                after the device lost the 3D context, whose ioctls then
 *                fail with EIO
 *   redraw       flush the framebuffer to the host again
 *   quit         exit (the caller powers off)
 *
 * Each command is acknowledged with "s3check: ACK N COMMAND" and ends with
 * "s3check: DONE N PASS|FAIL"; in between, each check is one line:
 *   s3check: PASS|FAIL|SKIP <check> [detail]
 * A texture is read back into a cleared buffer (TRANSFER_FROM_HOST): a
 * device that lost the resource leaves it cleared or answers an error,
 * and a driver that knows its 3D context was lost fails the ioctl with
 * EIO ("Input/output error").
 * What was read back is also shown, twice its size, in the top right
 * corner of the screen (the "texture panel"), so that a lost texture can
 * be seen.  Whether the picture is really on the screen is for the host
 * to see.
 *
 * Usage: s3check [-d /dev/dri/card0]
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <drm/virtgpu_drm.h>

/* virglrenderer's values (p_defines.h, virgl_hw.h) */
#define PIPE_TEXTURE_2D			2
#define VIRGL_FORMAT_B8G8R8A8_UNORM	1
#define VIRGL_BIND_SAMPLER_VIEW		(1 << 3)

#define PIPE_BUFFER			0
#define VIRGL_FORMAT_R8_UNORM		64
#define VIRGL_BIND_VERTEX_BUFFER	(1 << 4)
#define VIRGL_RESOURCE_FLAG_MAP_PERSISTENT (1 << 1)
#define VIRGL_RESOURCE_FLAG_MAP_COHERENT (1 << 2)
/* virgl_protocol.h */
#define VIRGL_CMD0(cmd, obj, len)	((cmd) | ((obj) << 8) | ((len) << 16))
#define VIRGL_CCMD_PIPE_RESOURCE_CREATE	48
#define VIRGL_PIPE_RES_CREATE_SIZE	11

#define BLOB_BYTES	(64 * 1024)

#define TEX_SIZE	64
#define TEX_BYTES	(TEX_SIZE * TEX_SIZE * 4)
#define MAX_TEXTURES	8

struct display {
	uint32_t crtc_id, conn_id, fb_id, handle;
	struct drm_mode_modeinfo mode;
	uint32_t width, height, pitch;
	uint64_t size;
	uint8_t *map;
};

struct texture {
	unsigned int variant;
	uint32_t bo_handle, res_handle;
	uint8_t *map;
};

struct blob {
	unsigned int variant;
	uint32_t bo_handle, res_handle, blob_id;
	uint8_t *map;
};

static int failures;
/* the blob of "blob", once made */
static struct blob the_blob;
static struct texture textures[MAX_TEXTURES];
/* the resources of "resources": GEM handles and sizes */
#define MAX_RESOURCES	256
static struct { uint32_t handle; uint32_t w, h; } resources[MAX_RESOURCES];
static unsigned int nresources;
static unsigned int ntextures;
/* the screen, for the texture panel */
static struct display *screen;

static void result(const char *verdict, const char *check,
		   const char *fmt, ...)
{
	va_list ap;

	if (!strcmp(verdict, "FAIL"))
		failures++;
	printf("s3check: %s %s", verdict, check);
	if (fmt) {
		putchar(' ');
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
	fflush(stdout);
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret && (errno == EINTR || errno == EAGAIN));
	return ret;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Test pattern K: a white frame, colour bars on the top half and a
 * gradient below.  Each K has its own bar order and gradient, so that a
 * host still showing an older picture is told apart.
 */
static uint32_t pattern_pixel(unsigned int k, unsigned int x, unsigned int y,
			      unsigned int w, unsigned int h)
{
	static const uint32_t bars[] = {
		0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
		0xff00ff, 0xff0000, 0x0000ff, 0x000000,
	};
	unsigned int v = x * 255 / w;

	if (x < 4 || y < 4 || x >= w - 4 || y >= h - 4)
		return 0xffffff;
	if (y < h / 2)
		return bars[(x * 8 / w + 3 * k) % 8];
	if (k % 2)
		return (255 - v) << 16 | (y * 255 / h) << 8 | v;
	return v << 16 | (255 - v) << 8 | y * 255 / h;
}

static void paint(struct display *d, unsigned int k)
{
	unsigned int x, y;

	for (y = 0; y < d->height; y++) {
		uint32_t *line = (uint32_t *)(d->map + y * d->pitch);

		for (x = 0; x < d->width; x++)
			line[x] = pattern_pixel(k, x, y, d->width, d->height);
	}
}

/* Flush the whole framebuffer to the host. */
static int flush(int fd, const struct display *d)
{
	struct drm_mode_fb_dirty_cmd dirty = { .fb_id = d->fb_id };

	if (xioctl(fd, DRM_IOCTL_MODE_DIRTYFB, &dirty) && errno != ENOSYS)
		return -1;
	return 0;
}

static int set_mode(int fd, struct display *d)
{
	struct drm_mode_card_res res = { 0 };
	struct drm_mode_create_dumb creq = { 0 };
	struct drm_mode_map_dumb mreq = { 0 };
	struct drm_mode_fb_cmd fb = { 0 };
	struct drm_mode_crtc crtc = { 0 };
	uint32_t conns[8], crtcs[8];
	const char *step;
	unsigned int i;

	res.connector_id_ptr = (uintptr_t)conns;
	res.count_connectors = 8;
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.count_crtcs = 8;
	if (xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) ||
	    !res.count_crtcs) {
		result("FAIL", "mode-set", "no KMS resources (%s)",
		       strerror(errno));
		return -1;
	}
	for (i = 0; i < res.count_connectors && i < 8; i++) {
		struct drm_mode_modeinfo modes[64];
		struct drm_mode_get_connector c = { .connector_id = conns[i] };

		c.modes_ptr = (uintptr_t)modes;
		c.count_modes = 64;
		if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c) ||
		    c.connection != 1 || !c.count_modes)
			continue;
		d->conn_id = conns[i];
		d->mode = modes[0];
		break;
	}
	if (!d->conn_id) {
		result("FAIL", "mode-set", "no connected connector");
		return -1;
	}
	d->crtc_id = crtcs[0];
	d->width = d->mode.hdisplay;
	d->height = d->mode.vdisplay;

	creq.width = d->width;
	creq.height = d->height;
	creq.bpp = 32;
	step = "CREATE_DUMB";
	if (xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &creq))
		goto fail;
	d->handle = creq.handle;
	d->pitch = creq.pitch;
	d->size = creq.size;
	mreq.handle = d->handle;
	step = "MAP_DUMB";
	if (xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &mreq))
		goto fail;
	step = "mmap";
	d->map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      mreq.offset);
	if (d->map == MAP_FAILED)
		goto fail;
	paint(d, 0);

	fb.width = d->width;
	fb.height = d->height;
	fb.pitch = d->pitch;
	fb.bpp = 32;
	fb.depth = 24;
	fb.handle = d->handle;
	step = "ADDFB";
	if (xioctl(fd, DRM_IOCTL_MODE_ADDFB, &fb))
		goto fail;
	d->fb_id = fb.fb_id;

	crtc.crtc_id = d->crtc_id;
	crtc.fb_id = d->fb_id;
	crtc.set_connectors_ptr = (uintptr_t)&d->conn_id;
	crtc.count_connectors = 1;
	crtc.mode = d->mode;
	crtc.mode_valid = 1;
	step = "SETCRTC";
	if (xioctl(fd, DRM_IOCTL_MODE_SETCRTC, &crtc))
		goto fail;
	result("PASS", "mode-set", "%ux%u pattern 0 on crtc %u",
	       d->width, d->height, d->crtc_id);
	return 0;

fail:
	result("FAIL", "mode-set", "%s: %s", step, strerror(errno));
	return -1;
}

/* Is the framebuffer still on the CRTC, with the same mode? */
static void check_scanout(int fd, const struct display *d)
{
	struct drm_mode_crtc crtc = { .crtc_id = d->crtc_id };

	if (xioctl(fd, DRM_IOCTL_MODE_GETCRTC, &crtc)) {
		result("FAIL", "scanout", "GETCRTC: %s", strerror(errno));
		return;
	}
	if (crtc.fb_id != d->fb_id || !crtc.mode_valid ||
	    crtc.mode.hdisplay != d->mode.hdisplay ||
	    crtc.mode.vdisplay != d->mode.vdisplay) {
		result("FAIL", "scanout", "crtc %u shows fb %u (want %u)",
		       d->crtc_id, crtc.fb_id, d->fb_id);
		return;
	}
	result("PASS", "scanout", "crtc %u shows fb %u", d->crtc_id,
	       d->fb_id);
}

static int getparam(int fd, uint64_t param)
{
	int value = 0;
	struct drm_virtgpu_getparam gp = {
		.param = param,
		.value = (uintptr_t)&value,
	};

	return xioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) ? 0 : value;
}

static int has_virgl(int fd)
{
	return getparam(fd, VIRTGPU_PARAM_3D_FEATURES);
}

/* Byte i of texture variant k */
static uint8_t texel(unsigned int k, unsigned int i)
{
	return (i * (7 + 2 * k) + i / 256 * 3 + 0x5a + 0x31 * k) & 0xff;
}

static int transfer(int fd, const struct texture *t, int to_host)
{
	struct drm_virtgpu_3d_transfer_to_host x = {
		.bo_handle = t->bo_handle,
		.box = { .w = TEX_SIZE, .h = TEX_SIZE, .d = 1 },
	};
	struct drm_virtgpu_3d_wait wait = { .handle = t->bo_handle };

	/* the from-host and to-host structures are the same */
	if (xioctl(fd, to_host ? DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST :
		   DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST, &x))
		return -1;
	return xioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, &wait);
}

/* Show what was read back of @t in the top right corner, twice its size */
static void show_texture(int fd, const struct texture *t)
{
	unsigned int x, y, x0;

	if (!screen || screen->width < 2 * TEX_SIZE + 8 ||
	    screen->height < 2 * TEX_SIZE + 8)
		return;
	x0 = screen->width - 4 - 2 * TEX_SIZE;
	for (y = 0; y < 2 * TEX_SIZE; y++) {
		uint32_t *line = (uint32_t *)(screen->map +
					      (4 + y) * screen->pitch);
		const uint32_t *texels = (const uint32_t *)t->map;

		for (x = 0; x < 2 * TEX_SIZE; x++)
			line[x0 + x] = texels[y / 2 * TEX_SIZE + x / 2];
	}
	flush(fd, screen);
}

/* Clear the guest copy, read the texture back from the host, compare. */
static int check_texture(int fd, const struct texture *t)
{
	unsigned int i, bad = 0;
	char check[32];

	snprintf(check, sizeof(check), "texture-%u", t->variant);
	memset(t->map, 0, TEX_BYTES);
	if (transfer(fd, t, 0)) {
		result("FAIL", check, "TRANSFER_FROM_HOST: %s",
		       strerror(errno));
		show_texture(fd, t);
		return -1;
	}
	show_texture(fd, t);
	for (i = 0; i < TEX_BYTES; i++)
		bad += t->map[i] != texel(t->variant, i);
	if (bad) {
		result("FAIL", check, "%u of %u bytes differ (resource %u)",
		       bad, TEX_BYTES, t->res_handle);
		return -1;
	}
	result("PASS", check, "%u bytes read back (resource %u)", TEX_BYTES,
	       t->res_handle);
	return 0;
}

static int make_texture(int fd, unsigned int k)
{
	struct drm_virtgpu_resource_create rc = {
		.target = PIPE_TEXTURE_2D,
		.format = VIRGL_FORMAT_B8G8R8A8_UNORM,
		.bind = VIRGL_BIND_SAMPLER_VIEW,
		.width = TEX_SIZE,
		.height = TEX_SIZE,
		.depth = 1,
		.array_size = 1,
		.size = TEX_BYTES,
	};
	struct drm_virtgpu_map map = { 0 };
	struct texture *t;
	char check[32];
	unsigned int i;

	snprintf(check, sizeof(check), "texture-%u", k);
	if (ntextures == MAX_TEXTURES) {
		result("FAIL", check, "at most %d textures", MAX_TEXTURES);
		return -1;
	}
	t = &textures[ntextures];
	t->variant = k;
	if (xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &rc)) {
		result("FAIL", check, "RESOURCE_CREATE: %s", strerror(errno));
		return -1;
	}
	t->bo_handle = rc.bo_handle;
	t->res_handle = rc.res_handle;
	map.handle = t->bo_handle;
	if (xioctl(fd, DRM_IOCTL_VIRTGPU_MAP, &map)) {
		result("FAIL", check, "MAP: %s", strerror(errno));
		return -1;
	}
	t->map = mmap(NULL, TEX_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      map.offset);
	if (t->map == MAP_FAILED) {
		result("FAIL", check, "mmap: %s", strerror(errno));
		return -1;
	}
	ntextures++;
	for (i = 0; i < TEX_BYTES; i++)
		t->map[i] = texel(k, i);
	if (transfer(fd, t, 1)) {
		result("FAIL", check, "TRANSFER_TO_HOST: %s", strerror(errno));
		return -1;
	}
	return check_texture(fd, t);
}

/* Fill @t with the content of texture @k, upload it, read it back */
static void refill_texture(int fd, struct texture *t, unsigned int k)
{
	unsigned int i;

	t->variant = k;
	for (i = 0; i < TEX_BYTES; i++)
		t->map[i] = texel(k, i);
	if (transfer(fd, t, 1)) {
		result("FAIL", "refill", "TRANSFER_TO_HOST: %s",
		       strerror(errno));
		return;
	}
	check_texture(fd, t);
}

/* Byte i of blob content k */
static uint8_t blob_byte(unsigned int k, unsigned int i)
{
	return (i * (5 + 2 * k) + (i >> 9) + 0xa5 + 0x3b * k) & 0xff;
}

/*
 * A mapping of a blob whose host memory the device lost faults (the guest
 * driver unmaps it): an access through it is caught and reported instead
 * of ending the program.
 */
static sigjmp_buf fault_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(fault_jmp, 1);
}

/* Run @fn on @b, SIGBUS caught; 0, or -1 if the mapping faulted */
static int through_mapping(void (*fn)(const struct blob *b, unsigned int *),
			   const struct blob *b, unsigned int *arg)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	int faulted = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(fault_jmp, 1))
		faulted = 1;
	else
		fn(b, arg);
	sigaction(SIGBUS, &old, NULL);
	return faulted ? -1 : 0;
}

static void count_bad(const struct blob *b, unsigned int *bad)
{
	unsigned int i;

	for (i = 0; i < BLOB_BYTES; i++)
		*bad += b->map[i] != blob_byte(b->variant, i);
}

static void write_blob(const struct blob *b, unsigned int *unused)
{
	unsigned int i;

	(void)unused;
	for (i = 0; i < BLOB_BYTES; i++)
		b->map[i] = blob_byte(b->variant, i);
}

/* Read the blob through its mapping and compare */
static int check_blob(const struct blob *b)
{
	unsigned int bad = 0;
	char check[32];

	snprintf(check, sizeof(check), "blob-%u", b->variant);
	if (through_mapping(count_bad, b, &bad)) {
		result("FAIL", check, "the mapping faults (SIGBUS): the device "
		       "lost the blob (resource %u)", b->res_handle);
		return -1;
	}
	if (bad) {
		result("FAIL", check, "%u of %u bytes differ through the "
		       "mapping (resource %u)", bad, BLOB_BYTES, b->res_handle);
		return -1;
	}
	result("PASS", check, "%u bytes read through the mapping (resource %u)",
	       BLOB_BYTES, b->res_handle);
	return 0;
}

static void fill_blob(struct blob *b, unsigned int k)
{
	char check[32];

	b->variant = k;
	if (through_mapping(write_blob, b, NULL)) {
		snprintf(check, sizeof(check), "blob-%u", k);
		result("FAIL", check, "the mapping faults (SIGBUS): the device "
		       "lost the blob (resource %u)", b->res_handle);
		return;
	}
	check_blob(b);
}

/*
 * A HOST3D blob the host can map: a pipe buffer made in the context with
 * a blob id (what Mesa's virgl driver does for a persistent, coherent
 * buffer), then RESOURCE_CREATE_BLOB with that id, mapped (VIRTGPU_MAP
 * has the host map it into the host-visible memory) and filled
 */
static void make_blob(int fd, unsigned int k)
{
	static uint32_t next_blob_id = 1;
	struct blob *b = &the_blob;
	uint32_t cmds[] = {
		VIRGL_CMD0(VIRGL_CCMD_PIPE_RESOURCE_CREATE, 0,
			   VIRGL_PIPE_RES_CREATE_SIZE),
		PIPE_BUFFER, VIRGL_FORMAT_R8_UNORM, VIRGL_BIND_VERTEX_BUFFER,
		BLOB_BYTES, 1, 1, 1,		/* width, height, depth, array */
		0, 0,				/* last_level, nr_samples */
		VIRGL_RESOURCE_FLAG_MAP_PERSISTENT |
		VIRGL_RESOURCE_FLAG_MAP_COHERENT,
		next_blob_id,
	};
	struct drm_virtgpu_execbuffer eb = {
		.size = sizeof(cmds),
		.command = (uintptr_t)cmds,
	};
	struct drm_virtgpu_resource_create_blob rb = {
		.blob_mem = VIRTGPU_BLOB_MEM_HOST3D,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
		.size = BLOB_BYTES,
		.blob_id = next_blob_id,
	};
	struct drm_virtgpu_map map = { 0 };

	if (b->map) {
		fill_blob(b, k);
		return;
	}
	if (!getparam(fd, VIRTGPU_PARAM_RESOURCE_BLOB) ||
	    !getparam(fd, VIRTGPU_PARAM_HOST_VISIBLE)) {
		result("SKIP", "blob", "the device has no blob resources or no "
		       "host-visible memory (blob=on, hostmem=...)");
		return;
	}
	next_blob_id++;
	if (xioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb)) {
		result("FAIL", "blob", "EXECBUFFER: %s", strerror(errno));
		return;
	}
	if (xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &rb)) {
		result("FAIL", "blob", "RESOURCE_CREATE_BLOB: %s",
		       strerror(errno));
		return;
	}
	map.handle = rb.bo_handle;
	if (xioctl(fd, DRM_IOCTL_VIRTGPU_MAP, &map)) {
		result("FAIL", "blob", "MAP: %s", strerror(errno));
		return;
	}
	b->map = mmap(NULL, BLOB_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, map.offset);
	if (b->map == MAP_FAILED) {
		b->map = NULL;
		result("FAIL", "blob", "mmap: %s", strerror(errno));
		return;
	}
	b->bo_handle = rb.bo_handle;
	b->res_handle = rb.res_handle;
	b->blob_id = rb.blob_id;
	fill_blob(b, k);
}

static void check_all(int fd, const struct display *d, int virgl)
{
	unsigned int i;

	check_scanout(fd, d);
	if (!virgl)
		result("SKIP", "textures", "the device has no virgl");
	for (i = 0; i < ntextures; i++)
		check_texture(fd, &textures[i]);
	if (the_blob.map)
		check_blob(&the_blob);
}

/* Upload a whole 2D resource (TRANSFER_TO_HOST) and wait for it */
static int upload(int fd, uint32_t handle, uint32_t w, uint32_t h)
{
	struct drm_virtgpu_3d_transfer_to_host x = {
		.bo_handle = handle,
		.box = { .w = w, .h = h, .d = 1 },
	};
	struct drm_virtgpu_3d_wait wait = { .handle = handle };

	if (xioctl(fd, DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, &x))
		return -1;
	return xioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, &wait);
}

/* "resources MB": 2D resources of MB MiB in all, 4 MiB each at most */
static void make_resources(int fd, unsigned int mib)
{
	unsigned int left = mib * 1024 * 1024, n = 0;
	double t0 = now_ms();

	while (left && nresources < MAX_RESOURCES) {
		struct drm_mode_create_dumb c = { .bpp = 32 };
		struct drm_mode_map_dumb m = { 0 };
		uint8_t *map;

		c.width = 1024;
		c.height = left >= 4 << 20 ? 1024 : left / 4096;
		if (xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &c)) {
			result("FAIL", "resources", "CREATE_DUMB: %s",
			       strerror(errno));
			return;
		}
		m.handle = c.handle;
		if (xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &m)) {
			result("FAIL", "resources", "MAP_DUMB: %s",
			       strerror(errno));
			return;
		}
		map = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, m.offset);
		if (map == MAP_FAILED) {
			result("FAIL", "resources", "mmap: %s", strerror(errno));
			return;
		}
		memset(map, 0x40 + n, c.size);
		munmap(map, c.size);
		if (upload(fd, c.handle, c.width, c.height)) {
			result("FAIL", "resources", "upload: %s",
			       strerror(errno));
			return;
		}
		resources[nresources].handle = c.handle;
		resources[nresources].w = c.width;
		resources[nresources].h = c.height;
		nresources++;
		left -= c.width * c.height * 4;
		n++;
	}
	result("PASS", "resources", "%u MiB in %u resources, %.0f ms", mib, n,
	       now_ms() - t0);
}

/*
 * Wait until the host has completed every command queued so far. Without
 * virgl a transfer carries no fence, so upload()'s WAIT returns at once;
 * the host processes the control queue in order, so waiting for the fence
 * of a 1x1 resource created after the transfers waits for them too.
 */
static int host_barrier(int fd)
{
	struct drm_virtgpu_resource_create rc = {
		.target = PIPE_TEXTURE_2D,
		.format = VIRGL_FORMAT_B8G8R8A8_UNORM,
		.bind = VIRGL_BIND_SAMPLER_VIEW,
		.width = 1,
		.height = 1,
		.depth = 1,
		.array_size = 1,
	};
	struct drm_virtgpu_3d_wait wait = { 0 };
	struct drm_gem_close close_bo = { 0 };
	int ret;

	if (xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &rc))
		return -1;
	wait.handle = rc.bo_handle;
	ret = xioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, &wait);
	close_bo.handle = rc.bo_handle;
	ioctl(fd, DRM_IOCTL_GEM_CLOSE, &close_bo);
	return ret;
}

static int reupload(int fd)
{
	unsigned int i;

	for (i = 0; i < nresources; i++) {
		if (upload(fd, resources[i].handle, resources[i].w,
			   resources[i].h)) {
			result("FAIL", "reupload", "resource %u: %s", i,
			       strerror(errno));
			return -1;
		}
	}
	/* done when the host has the contents, not when they are queued */
	if (host_barrier(fd)) {
		result("FAIL", "reupload", "waiting for the host: %s",
		       strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The time from the kernel's "Low-level resume complete" (suspend to RAM)
 * or "resume from suspend-to-idle" (suspend to idle, logged with
 * /sys/power/pm_debug_messages on) to now, both in the kernel log's
 * timestamps (a record of our own marks now); -1 if the log has neither.
 */
static double resume_to_now_ms(void)
{
	/* KERN_DEBUG: in the log with its timestamp, not on the console */
	static const char mark[] = "<7>s3check: first good frame\n";
	unsigned long long ts, resumed = 0, now = 0;
	char rec[1024];
	int fd;
	ssize_t n;

	fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0 || write(fd, mark, strlen(mark)) < 0)
		return -1;
	close(fd);
	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || errno == EPIPE) {
		if (n <= 0)
			continue;	/* overwritten: go on with the next */
		rec[n] = 0;
		if (sscanf(rec, "%*u,%*u,%llu", &ts) != 1)
			continue;
		if (strstr(rec, "Low-level resume complete") ||
		    strstr(rec, "resume from suspend-to-idle"))
			resumed = ts;
		else if (strstr(rec, "s3check: first good frame"))
			now = ts;
	}
	close(fd);
	return resumed && now > resumed ? (now - resumed) / 1000.0 : -1;
}

/* Write @value to @path (a sysfs or debugfs file) */
static void write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, value, strlen(value));
		if (n >= 0 && n != (ssize_t)strlen(value))
			errno = EIO;
		close(fd);
	}
	if (n == (ssize_t)strlen(value))
		result("PASS", "write", "%s: %s", path, value);
	else
		result("FAIL", "write", "%s: %s: %s", path, value,
		       strerror(errno));
}

/*
 * Close the card for good: every mapping of its objects goes first, as a
 * mapping keeps the DRM file, and with it its 3D context and the display,
 * alive after close
 */
static void stop(int fd, struct display *d)
{
	unsigned int i;

	for (i = 0; i < ntextures; i++)
		munmap(textures[i].map, TEX_BYTES);
	ntextures = 0;
	if (the_blob.map)
		munmap(the_blob.map, BLOB_BYTES);
	memset(&the_blob, 0, sizeof(the_blob));
	if (d->map)
		munmap(d->map, d->size);
	d->map = NULL;
	screen = NULL;
	close(fd);
}

/* Open the card, set the mode, make texture 0 (virgl); 0 or -1 */
static int start(const char *path, struct display *d, int *virgl)
{
	unsigned int tries;
	int fd;

	for (tries = 0; (fd = open(path, O_RDWR | O_CLOEXEC)) < 0; tries++) {
		if (tries == 100) {
			result("FAIL", "open", "%s: %s", path, strerror(errno));
			return -1;
		}
		usleep(100000);
	}
	memset(d, 0, sizeof(*d));
	if (set_mode(fd, d))
		return -1;
	screen = d;
	*virgl = has_virgl(fd);
	ntextures = 0;
	if (the_blob.map)
		munmap(the_blob.map, BLOB_BYTES);
	memset(&the_blob, 0, sizeof(the_blob));
	if (!*virgl)
		result("SKIP", "texture-0", "the device has no virgl");
	else if (make_texture(fd, 0))
		return -1;
	return fd;
}

/* rtcwake -m MODE -s SECONDS; its exit status */
static int sleep_system(const char *mode, const char *seconds)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		execlp("rtcwake", "rtcwake", "-m", mode, "-s", seconds,
		       (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int main(int argc, char **argv)
{
	const char *path = "/dev/dri/card0";
	struct display d = { 0 };
	unsigned int n, k;
	char line[160], cmd[32], arg1[96], arg2[32], arg3[32], card[32];
	int fd, opt, virgl, rc;
	unsigned int i;
	double t0;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		switch (opt) {
		case 'd':
			path = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-d card]\n", argv[0]);
			return 2;
		}
	}

	fd = start(path, &d, &virgl);
	if (fd < 0)
		return 1;

	printf("s3check: READY virgl=%d\n", virgl);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		arg1[0] = arg2[0] = arg3[0] = 0;
		if (sscanf(line, "%u %31s %95s %31s %31s", &n, cmd, arg1, arg2,
			   arg3) < 2)
			continue;	/* not for us (an echo, noise) */
		printf("s3check: ACK %u %s\n", n, cmd);
		fflush(stdout);
		failures = 0;
		if (!strcmp(cmd, "quit")) {
			printf("s3check: DONE %u PASS\n", n);
			break;
		} else if (!strcmp(cmd, "redraw")) {
			if (flush(fd, &d))
				result("FAIL", "redraw", "DIRTYFB: %s",
				       strerror(errno));
		} else if (!strcmp(cmd, "paint")) {
			k = strtoul(arg1, NULL, 0);
			paint(&d, k);
			if (flush(fd, &d))
				result("FAIL", "paint", "DIRTYFB: %s",
				       strerror(errno));
			else
				result("PASS", "paint", "pattern %u", k);
		} else if (!strcmp(cmd, "texture")) {
			if (!virgl)
				result("SKIP", "texture", "no virgl");
			else
				make_texture(fd, strtoul(arg1, NULL, 0));
		} else if (!strcmp(cmd, "blob")) {
			if (!virgl)
				result("SKIP", "blob", "no virgl");
			else
				make_blob(fd, strtoul(arg1, NULL, 0));
		} else if (!strcmp(cmd, "refill")) {
			if (!virgl || !ntextures) {
				result("SKIP", "refill", "no virgl");
			} else {
				refill_texture(fd, &textures[0],
					       strtoul(arg1, NULL, 0));
			}
		} else if (!strcmp(cmd, "resources")) {
			make_resources(fd, strtoul(arg1, NULL, 0));
		} else if (!strcmp(cmd, "check")) {
			check_all(fd, &d, virgl);
		} else if (!strcmp(cmd, "write")) {
			write_file(arg1, arg2);
		} else if (!strcmp(cmd, "reopen")) {
			/*
			 * a new DRM file: a new 3D context after the device
			 * lost the old one (whose ioctls fail with EIO)
			 */
			stop(fd, &d);
			/*
			 * bound again while the old card was open, the
			 * device has the next card number
			 */
			for (i = 0; i < 16 && access(path, F_OK); i++) {
				snprintf(card, sizeof(card), "/dev/dri/card%u", i);
				path = card;
			}
			fd = start(path, &d, &virgl);
			if (fd < 0)
				result("FAIL", "reopen", "%s", path);
		} else if (!strcmp(cmd, "sleep")) {
			printf("s3check: SLEEPING rtcwake -m %s -s %s\n", arg1,
			       arg2);
			fflush(stdout);
			t0 = now_ms();
			rc = sleep_system(arg1, arg2);
			printf("s3check: RESUMED rc=%d after %.0f ms\n", rc,
			       now_ms() - t0);
			fflush(stdout);
			if (rc)
				result("FAIL", "rtcwake", "exit status %d", rc);
			if (strcmp(arg3, "nocheck")) {
				double ms;

				if (flush(fd, &d))
					result("FAIL", "redraw", "DIRTYFB: %s",
					       strerror(errno));
				check_all(fd, &d, virgl);
				if (!strcmp(arg3, "reupload"))
					reupload(fd);
				ms = resume_to_now_ms();
				if (!failures && ms >= 0)
					printf("s3check: TIME resume-to-frame "
					       "%.1f\n", ms);
			}
		} else {
			result("FAIL", "command", "unknown: %s", cmd);
		}
		printf("s3check: DONE %u %s\n", n, failures ? "FAIL" : "PASS");
		fflush(stdout);
	}
	return 0;
}
