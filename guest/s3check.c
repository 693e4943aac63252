/*
 * s3check: does a virtio-gpu device keep its state across suspend to RAM?
 *
 * Run by the test guest's /init on the serial console.  It
 *
 *   1. sets a mode on the first connected connector of /dev/dri/card0,
 *      scanning out a dumb framebuffer that holds a test pattern;
 *   2. with virgl (VIRTGPU_PARAM_3D_FEATURES), creates a 64x64 3D texture,
 *      fills it with TRANSFER_TO_HOST and checks that it reads back;
 *   3. prints "s3check: READY" and waits for commands on stdin:
 *        s3    suspend to RAM with 'rtcwake -m mem -s SECONDS' and check
 *              again after resume;
 *        redraw  flush the whole framebuffer to the host again;
 *        quit  exit (the caller powers off).
 *
 * After resume it checks that the CRTC still scans out the framebuffer
 * and that the texture reads back identical (TRANSFER_FROM_HOST into a
 * cleared buffer: a device that lost the resource leaves it cleared).
 * Whether the picture is really on the screen is for the host to see.
 *
 * Every result is one line on stdout, for the host to parse:
 *   s3check: PASS|FAIL|SKIP <check> [detail]
 * and each S3 cycle ends with "s3check: RESULT PASS|FAIL".
 *
 * Usage: s3check [-d /dev/dri/card0] [-s seconds]
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
#include <termios.h>
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

struct display {
	uint32_t crtc_id, conn_id, fb_id, handle;
	struct drm_mode_modeinfo mode;
	uint32_t pitch;
	uint64_t size;
	uint8_t *map;
};

struct texture {
	uint32_t bo_handle, res_handle;
	uint8_t *map;
};

static int failures;

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

static uint32_t pattern_pixel(unsigned int x, unsigned int y,
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
		return bars[x * 8 / w];
	return v << 16 | (255 - v) << 8 | y * 255 / h;
}

static int set_mode(int fd, struct display *d)
{
	struct drm_mode_card_res res = { 0 };
	struct drm_mode_create_dumb creq = { 0 };
	struct drm_mode_map_dumb mreq = { 0 };
	struct drm_mode_fb_cmd fb = { 0 };
	struct drm_mode_crtc crtc = { 0 };
	uint32_t conns[8], crtcs[8];
	unsigned int i, x, y;

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

	creq.width = d->mode.hdisplay;
	creq.height = d->mode.vdisplay;
	creq.bpp = 32;
	if (xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &creq)) {
		result("FAIL", "mode-set", "CREATE_DUMB: %s", strerror(errno));
		return -1;
	}
	d->handle = creq.handle;
	d->pitch = creq.pitch;
	d->size = creq.size;
	mreq.handle = d->handle;
	if (xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &mreq)) {
		result("FAIL", "mode-set", "MAP_DUMB: %s", strerror(errno));
		return -1;
	}
	d->map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      mreq.offset);
	if (d->map == MAP_FAILED) {
		result("FAIL", "mode-set", "mmap: %s", strerror(errno));
		return -1;
	}
	for (y = 0; y < creq.height; y++) {
		uint32_t *line = (uint32_t *)(d->map + y * d->pitch);

		for (x = 0; x < creq.width; x++)
			line[x] = pattern_pixel(x, y, creq.width, creq.height);
	}

	fb.width = creq.width;
	fb.height = creq.height;
	fb.pitch = d->pitch;
	fb.bpp = 32;
	fb.depth = 24;
	fb.handle = d->handle;
	if (xioctl(fd, DRM_IOCTL_MODE_ADDFB, &fb)) {
		result("FAIL", "mode-set", "ADDFB: %s", strerror(errno));
		return -1;
	}
	d->fb_id = fb.fb_id;

	crtc.crtc_id = d->crtc_id;
	crtc.fb_id = d->fb_id;
	crtc.set_connectors_ptr = (uintptr_t)&d->conn_id;
	crtc.count_connectors = 1;
	crtc.mode = d->mode;
	crtc.mode_valid = 1;
	if (xioctl(fd, DRM_IOCTL_MODE_SETCRTC, &crtc)) {
		result("FAIL", "mode-set", "SETCRTC: %s", strerror(errno));
		return -1;
	}
	result("PASS", "mode-set", "%ux%u pattern on crtc %u",
	       creq.width, creq.height, d->crtc_id);
	return 0;
}

/*
 * Flush the whole framebuffer to the host again.  The host's window may
 * not have been up when the mode was set: "redraw" before a screenshot.
 */
static int redraw(int fd, const struct display *d)
{
	struct drm_mode_fb_dirty_cmd dirty = { .fb_id = d->fb_id };

	if (xioctl(fd, DRM_IOCTL_MODE_DIRTYFB, &dirty) && errno != ENOSYS) {
		printf("s3check: REDRAW failed: %s\n", strerror(errno));
		fflush(stdout);
		return -1;
	}
	printf("s3check: REDRAWN\n");
	fflush(stdout);
	return 0;
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

static uint8_t texel(unsigned int i)
{
	return (i * 7 + i / 256 * 3 + 0x5a) & 0xff;
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

/* Clear the guest copy, read the texture back from the host, compare. */
static void check_texture(int fd, const struct texture *t, const char *check)
{
	unsigned int i, bad = 0;

	memset(t->map, 0, TEX_BYTES);
	if (transfer(fd, t, 0)) {
		result("FAIL", check, "TRANSFER_FROM_HOST: %s",
		       strerror(errno));
		return;
	}
	for (i = 0; i < TEX_BYTES; i++)
		bad += t->map[i] != texel(i);
	if (bad)
		result("FAIL", check, "%u of %u bytes differ (resource %u)",
		       bad, TEX_BYTES, t->res_handle);
	else
		result("PASS", check, "%u bytes read back (resource %u)",
		       TEX_BYTES, t->res_handle);
}

static int make_texture(int fd, struct texture *t)
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
	unsigned int i;

	if (xioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &rc)) {
		result("FAIL", "3d-before", "RESOURCE_CREATE: %s",
		       strerror(errno));
		return -1;
	}
	t->bo_handle = rc.bo_handle;
	t->res_handle = rc.res_handle;
	map.handle = t->bo_handle;
	if (xioctl(fd, DRM_IOCTL_VIRTGPU_MAP, &map)) {
		result("FAIL", "3d-before", "MAP: %s", strerror(errno));
		return -1;
	}
	t->map = mmap(NULL, TEX_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      map.offset);
	if (t->map == MAP_FAILED) {
		result("FAIL", "3d-before", "mmap: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < TEX_BYTES; i++)
		t->map[i] = texel(i);
	if (transfer(fd, t, 1)) {
		result("FAIL", "3d-before", "TRANSFER_TO_HOST: %s",
		       strerror(errno));
		return -1;
	}
	check_texture(fd, t, "3d-before");
	return 0;
}

static int suspend(unsigned int seconds)
{
	char arg[16];
	int status;
	pid_t pid;

	snprintf(arg, sizeof(arg), "%u", seconds);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		execlp("rtcwake", "rtcwake", "-m", "mem", "-s", arg,
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
	unsigned int seconds = 5, tries;
	struct display d = { 0 };
	struct texture t = { 0 };
	int fd, opt, virgl, rc;
	char cmd[64];

	while ((opt = getopt(argc, argv, "d:s:")) != -1) {
		switch (opt) {
		case 'd':
			path = optarg;
			break;
		case 's':
			seconds = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-d card] [-s seconds]\n",
				argv[0]);
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
	virgl = has_virgl(fd);
	if (!virgl)
		result("SKIP", "3d-before", "the device has no virgl");
	else if (make_texture(fd, &t))
		return 1;
	if (failures)
		return 1;

	printf("s3check: READY\n");
	fflush(stdout);
	while (fgets(cmd, sizeof(cmd), stdin)) {
		if (!strncmp(cmd, "quit", 4))
			break;
		if (!strncmp(cmd, "redraw", 6)) {
			redraw(fd, &d);
			continue;
		}
		if (strncmp(cmd, "s3", 2))
			continue;
		failures = 0;
		printf("s3check: SUSPENDING rtcwake -m mem -s %u\n", seconds);
		fflush(stdout);
		rc = suspend(seconds);
		printf("s3check: RESUMED rc=%d\n", rc);
		fflush(stdout);
		if (rc)
			result("FAIL", "rtcwake", "exit status %d", rc);
		check_scanout(fd, &d);
		if (virgl)
			check_texture(fd, &t, "3d-after");
		else
			result("SKIP", "3d-after", "the device has no virgl");
		printf("s3check: RESULT %s\n", failures ? "FAIL" : "PASS");
		fflush(stdout);
		/* a command the host repeated while we were away: drop it */
		tcflush(STDIN_FILENO, TCIFLUSH);
	}
	return 0;
}
