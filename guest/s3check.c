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
 *   check        is the framebuffer still on the CRTC, and does every
 *                texture read back what was uploaded?
 *   sleep MODE S suspend with 'rtcwake -m MODE -s S' (MODE mem: suspend
 *                to RAM; freeze: suspend to idle), then "check"
 *   redraw       flush the framebuffer to the host again
 *   quit         exit (the caller powers off)
 *
 * Each command is acknowledged with "s3check: ACK N COMMAND" and ends with
 * "s3check: DONE N PASS|FAIL"; in between, each check is one line:
 *   s3check: PASS|FAIL|SKIP <check> [detail]
 * A texture is read back into a cleared buffer (TRANSFER_FROM_HOST): a
 * device that lost the resource leaves it cleared or answers an error.
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

static int failures;
static struct texture textures[MAX_TEXTURES];
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

static int has_virgl(int fd)
{
	int value = 0;
	struct drm_virtgpu_getparam gp = {
		.param = VIRTGPU_PARAM_3D_FEATURES,
		.value = (uintptr_t)&value,
	};

	return !xioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) && value;
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

static void check_all(int fd, const struct display *d, int virgl)
{
	unsigned int i;

	check_scanout(fd, d);
	if (!virgl)
		result("SKIP", "textures", "the device has no virgl");
	for (i = 0; i < ntextures; i++)
		check_texture(fd, &textures[i]);
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
	unsigned int tries, n, k;
	char line[128], cmd[32], arg1[32], arg2[32];
	int fd, opt, virgl, rc;
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

	for (tries = 0; (fd = open(path, O_RDWR | O_CLOEXEC)) < 0; tries++) {
		if (tries == 100) {
			result("FAIL", "open", "%s: %s", path, strerror(errno));
			return 1;
		}
		usleep(100000);
	}
	if (set_mode(fd, &d))
		return 1;
	screen = &d;
	virgl = has_virgl(fd);
	if (!virgl)
		result("SKIP", "texture-0", "the device has no virgl");
	else if (make_texture(fd, 0))
		return 1;

	printf("s3check: READY virgl=%d\n", virgl);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		arg1[0] = arg2[0] = 0;
		if (sscanf(line, "%u %31s %31s %31s", &n, cmd, arg1, arg2) < 2)
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
		} else if (!strcmp(cmd, "check")) {
			check_all(fd, &d, virgl);
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
			check_all(fd, &d, virgl);
		} else {
			result("FAIL", "command", "unknown: %s", cmd);
		}
		printf("s3check: DONE %u %s\n", n, failures ? "FAIL" : "PASS");
		fflush(stdout);
	}
	return 0;
}
