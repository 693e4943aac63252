/*
 * fbpattern: paint a test pattern on a Linux framebuffer.
 *
 * Colour bars over the top half, a gradient below, and a white frame, so
 * that a screenshot tells at once whether the picture survived.
 *
 * Usage: fbpattern [/dev/fb0]
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <fcntl.h>
#include <linux/fb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static uint32_t pixel(const struct fb_var_screeninfo *v,
		      unsigned int r, unsigned int g, unsigned int b)
{
	return (r >> (8 - v->red.length)) << v->red.offset |
	       (g >> (8 - v->green.length)) << v->green.offset |
	       (b >> (8 - v->blue.length)) << v->blue.offset;
}

int main(int argc, char **argv)
{
	static const uint8_t bars[][3] = {
		{ 255, 255, 255 }, { 255, 255, 0 }, { 0, 255, 255 },
		{ 0, 255, 0 }, { 255, 0, 255 }, { 255, 0, 0 },
		{ 0, 0, 255 }, { 0, 0, 0 },
	};
	const char *path = argc > 1 ? argv[1] : "/dev/fb0";
	struct fb_var_screeninfo var;
	struct fb_fix_screeninfo fix;
	unsigned int x, y;
	uint8_t *fb;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0 || ioctl(fd, FBIOGET_VSCREENINFO, &var) ||
	    ioctl(fd, FBIOGET_FSCREENINFO, &fix)) {
		perror(path);
		return 1;
	}
	/*
	 * Make the framebuffer the one on screen: with no fbcon to do it,
	 * DRM's fbdev emulation sets the mode when a client asks for it.
	 */
	var.activate = FB_ACTIVATE_NOW | FB_ACTIVATE_FORCE;
	if (ioctl(fd, FBIOPUT_VSCREENINFO, &var)) {
		perror("FBIOPUT_VSCREENINFO");
		return 1;
	}
	if (var.bits_per_pixel != 32) {
		fprintf(stderr, "%s: %u bits per pixel, want 32\n", path,
			var.bits_per_pixel);
		return 1;
	}
	fb = mmap(NULL, fix.smem_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		  fd, 0);
	if (fb == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	for (y = 0; y < var.yres; y++) {
		uint32_t *line = (uint32_t *)(fb + y * fix.line_length);

		for (x = 0; x < var.xres; x++) {
			const uint8_t *c = bars[x * 8 / var.xres];
			unsigned int v = x * 255 / var.xres;

			if (x < 4 || y < 4 || x >= var.xres - 4 ||
			    y >= var.yres - 4)
				line[x] = pixel(&var, 255, 255, 255);
			else if (y < var.yres / 2)
				line[x] = pixel(&var, c[0], c[1], c[2]);
			else
				line[x] = pixel(&var, v, 255 - v,
						y * 255 / var.yres);
		}
	}
	msync(fb, fix.smem_len, MS_SYNC);
	printf("fbpattern: %ux%u painted on %s\n", var.xres, var.yres, path);
	return 0;
}
