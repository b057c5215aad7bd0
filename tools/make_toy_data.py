"""Procedural toy street scenes: synthetic source (GTA layout), real-looking target (Cityscapes).

Usage: python tools/make_toy_data.py [--out data/toy] [--num-source N] [--num-train N]
       [--num-val N] [--size W H] [--seed S] [--no-convert]
       python tools/make_toy_data.py --dataset NAME [--out data/toy_NAME] [--num-images N] ...
       (one of the other datasets in its released layout: tools/toy_datasets.py)

Both domains draw scenes from the same layout distribution (road in perspective, sidewalks,
buildings, walls/fences, vegetation, terrain, poles with traffic lights and signs, cars, trucks,
buses, trams, persons, riders on bicycles/motorcycles). Only the appearance differs: the source
is flat and saturated with hard edges; the target is desaturated with a shifted palette, texture,
a lighting gradient, slight blur, evening light (darker, warmer, lower contrast) and sensor
noise. The evening light is what a network trained on the source alone cannot bridge: a tiny
DAFormer trained on toy GTA falls from about 26 to 12 mIoU on toy Cityscapes val with it, while a
network trained on toy Cityscapes itself is unaffected (docs/toy_benchmark.md). Labels come from one set of polygons per scene,
rasterised like cityscapesscripts does, so the Cityscapes JSON, the labelIds PNG and the GTA
label PNG agree with the image.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
from dataclasses import dataclass, field

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import id2label, name2label
from PIL import Image, ImageDraw

if __package__ in (None, ''):  # run as a script: make ``tools`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmseg.utils.errors import UserFileExistsError, UserInputError, run_cli  # noqa: E402

__all__ = ['SceneObject', 'compose_scene', 'rasterize', 'render_image', 'make_scene',
           'generate_toy_data', 'parse_args', 'main']

MARKER_FILE = 'toy_data.json'
# The toy warm start (tools/make_toy_pretrained.py) is made from the toy GTA images; it goes
# with them when the data are made anew.
WARM_START_FILE = 'mittiny_toygta.pth'
TRAIN_CITIES = ('aachen', 'bremen')
VAL_CITIES = ('frankfurt',)
DOMAIN_CODES = {'source': 0, 'target': 1}

# "Natural" colours (RGB) of the looks; each domain transforms them differently (render_image).
LOOK_COLOURS = {
    'sky': [(118, 168, 226), (150, 185, 225), (170, 190, 205)],
    'road': [(84, 84, 90), (96, 92, 96)],
    'marking': [(228, 228, 218)],
    'sidewalk': [(158, 142, 150), (170, 160, 150)],
    'building': [(150, 104, 84), (172, 166, 150), (120, 126, 138), (190, 170, 130)],
    'window': [(46, 56, 72), (70, 80, 96)],
    'wall': [(168, 156, 132), (140, 140, 130)],
    'fence': [(124, 100, 78), (150, 150, 150)],
    'pole': [(108, 108, 114), (80, 86, 80)],
    'traffic light': [(36, 38, 34)],
    'lamp': [(235, 60, 40), (60, 220, 90), (250, 180, 30)],
    'traffic sign': [(205, 30, 30), (30, 70, 185), (235, 205, 35)],
    'vegetation': [(58, 122, 44), (80, 130, 50), (46, 100, 40)],
    'trunk': [(92, 66, 42)],
    'terrain': [(142, 164, 82), (160, 150, 96)],
    'clothes': [(40, 60, 150), (170, 40, 40), (40, 40, 40), (220, 200, 60), (90, 140, 90)],
    'skin': [(214, 164, 132), (150, 104, 76)],
    'car': [(182, 22, 24), (30, 42, 142), (204, 204, 210), (32, 32, 34), (100, 102, 112),
            (222, 182, 34)],
    'truck': [(230, 230, 226), (40, 90, 160), (200, 90, 30)],
    'bus': [(232, 190, 40), (200, 40, 40), (40, 120, 200)],
    'train': [(226, 226, 222), (232, 196, 40)],
    'motorcycle': [(36, 36, 40), (180, 30, 30)],
    'bicycle': [(22, 62, 142), (160, 160, 170)],
    'glass': [(48, 60, 76)],
    'tyre': [(24, 24, 24)],
    'taillight': [(210, 20, 20)],
    'rail': [(110, 100, 90)],
    'ego vehicle': [(28, 28, 32)],
}
# Texture strength (grey levels) of each look in the target domain.
TARGET_TEXTURE = {'vegetation': 18.0, 'terrain': 13.0, 'road': 7.0, 'sidewalk': 6.0,
                  'building': 8.0, 'trunk': 10.0, 'wall': 7.0, 'fence': 9.0, 'sky': 1.5}
DEFAULT_TEXTURE = 4.0
# Target lighting (render_image): per-channel gain and offset applied after shading.
EVENING_GAIN = np.array([0.9, 0.84, 0.76], dtype=np.float32)
EVENING_OFFSET = np.array([13.0, 10.0, 7.0], dtype=np.float32)


@dataclass
class SceneObject:
    """One annotated polygon: Cityscapes label name, look (appearance key), image-space points."""
    label: str
    look: str
    polygon: list
    colour: tuple = field(default=(0, 0, 0))


class Camera:
    """Pin-hole camera over a flat street; world metres (x right, z up, depth ahead) → pixels."""

    def __init__(self, width, height, rng):
        self.width, self.height = width, height
        self.horizon = height * rng.uniform(0.36, 0.46)
        self.centre = width * rng.uniform(0.42, 0.58)
        self.focal = width * rng.uniform(0.95, 1.1)
        self.cam_height = 1.4

    def point(self, x, z, depth):
        return (self.centre + self.focal * x / depth,
                self.horizon + self.focal * (self.cam_height - z) / depth)

    def ground_quad(self, x0, x1, d0, d1):
        return [self.point(x0, 0, d0), self.point(x1, 0, d0), self.point(x1, 0, d1),
                self.point(x0, 0, d1)]

    def facade(self, x, z0, z1, d0, d1):
        """A vertical wall parallel to the street at lateral ``x`` between depths d0 and d1."""
        return [self.point(x, z0, d0), self.point(x, z1, d0), self.point(x, z1, d1),
                self.point(x, z0, d1)]

    def sprite(self, x, depth, width, height, shape):
        """Map unit-box points (u right, v up, base centred at x) of a camera-facing shape."""
        return [self.point(x + (u - 0.5) * width, v * height, depth) for u, v in shape]


def _ellipse(cu, cv, ru, rv, n=12):
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return [(cu + ru * np.cos(a), cv + rv * np.sin(a)) for a in angles]


def _box(u0, v0, u1, v1):
    return [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]


def _pick(rng, look):
    options = LOOK_COLOURS[look]
    return tuple(options[rng.integers(len(options))])


class SceneBuilder:
    """Collects objects back to front; depth-sorted groups (things, poles, trees) are drawn last."""

    def __init__(self, camera, rng):
        self.camera, self.rng = camera, rng
        self.background = []
        self.groups = []  # (depth, [SceneObject])

    def add(self, label, look, polygon, colour=None):
        colour = colour if colour is not None else _pick(self.rng, look)
        self.background.append(SceneObject(label, look, polygon, colour))

    def group(self, depth, parts):
        """``parts``: (label, look, polygon, colour or None), drawn in order at one depth."""
        objects = [SceneObject(label, look, poly, colour if colour is not None else
                               _pick(self.rng, look)) for label, look, poly, colour in parts]
        self.groups.append((depth, objects))

    def objects(self):
        ordered = [obj for _, objs in sorted(self.groups, key=lambda g: -g[0]) for obj in objs]
        return self.background + ordered


def _add_street(scene, street):
    """Sky, skyline, road with markings, sidewalks, terrain strips, façades, walls and fences."""
    cam, rng, w, h = scene.camera, scene.rng, scene.camera.width, scene.camera.height
    scene.add('sky', 'sky', [(0, 0), (w - 1, 0), (w - 1, h - 1), (0, h - 1)])
    x = -90.0
    while x < 90.0:  # distant skyline with gaps
        width = rng.uniform(8, 25)
        if rng.random() < 0.75:
            top = rng.uniform(12, 45)
            scene.add('building', 'building',
                      cam.sprite(x + width / 2, 220.0, width, top, _box(0, 0, 1, 1)))
        x += width
    road, walk = street['road_half_width'], street['sidewalk_width']
    for side in (-1, 1):
        _add_facades(scene, side * street['building_offset'][side])
    scene.add('road', 'road', cam.ground_quad(-road, road, 0.5, 400.0))
    if street['train']:
        scene.add('rail track', 'rail', cam.ground_quad(-1.0, 1.0, 0.5, 400.0))
    for d0 in np.arange(rng.uniform(1.0, 6.0), 120.0, 9.0):  # dashed lane markings
        for lane_x in street['lane_lines']:
            scene.add('road', 'marking', cam.ground_quad(lane_x - 0.08, lane_x + 0.08, d0, d0 + 3))
    for side in (-1, 1):
        inner, outer = side * road, side * (road + walk)
        scene.add('sidewalk', 'sidewalk', cam.ground_quad(min(inner, outer), max(inner, outer),
                                                          0.5, 400.0))
        if street['terrain'][side]:
            far = side * street['building_offset'][side]
            scene.add('terrain', 'terrain', cam.ground_quad(min(outer, far), max(outer, far),
                                                            0.5, 400.0))
        _add_boundary(scene, outer, street['boundary'][side])


def _add_facades(scene, x):
    """Building blocks along one side of the street, with windows, sometimes with gaps."""
    cam, rng = scene.camera, scene.rng
    depth = 1.0
    while depth < 160.0:
        length = rng.uniform(10, 35)
        if rng.random() < 0.85:
            top = rng.uniform(7, 24)
            scene.add('building', 'building', cam.facade(x, 0, top, depth, depth + length))
            if cam.focal / (depth + length) * 1.2 >= 2.0:  # windows only where they show
                glass = _pick(rng, 'window')
                for z in np.arange(2.5, top - 1.5, 3.2):
                    for d in np.arange(depth + 1.0, depth + length - 1.5, 3.0):
                        scene.add('building', 'window', cam.facade(x, z, z + 1.4, d, d + 1.3),
                                  glass)
        depth += length + (rng.uniform(2, 8) if rng.random() < 0.3 else 0.0)


def _add_boundary(scene, x, kind):
    """A wall, a fence or a hedge along the outer sidewalk edge (``kind`` may be None)."""
    if kind is None:
        return
    cam, rng = scene.camera, scene.rng
    d0 = rng.uniform(2, 20)
    d1 = d0 + rng.uniform(15, 60)
    label = {'wall': 'wall', 'fence': 'fence', 'hedge': 'vegetation'}[kind]
    top = {'wall': rng.uniform(1.0, 2.5), 'fence': rng.uniform(1.0, 1.8),
           'hedge': rng.uniform(0.8, 1.6)}[kind]
    scene.add(label, 'vegetation' if kind == 'hedge' else kind, cam.facade(x, 0, top, d0, d1))


def _add_tree(scene, x, depth):
    cam, rng = scene.camera, scene.rng
    trunk_h, crown = rng.uniform(2.0, 3.5), rng.uniform(1.5, 3.0)
    total_h = trunk_h + 2 * crown
    crown_shape = [(0.5 + 0.5 * np.cos(a) * rng.uniform(0.8, 1.1),
                    (trunk_h + crown * (1 + np.sin(a) * rng.uniform(0.8, 1.1))) / total_h)
                   for a in np.linspace(0, 2 * np.pi, 14, endpoint=False)]
    scene.group(depth, [
        ('vegetation', 'trunk', cam.sprite(x, depth, 0.35, trunk_h + 0.5, _box(0, 0, 1, 1)), None),
        ('vegetation', 'vegetation', cam.sprite(x, depth, 2 * crown, total_h, crown_shape), None),
    ])


def _add_pole(scene, x, depth):
    """A pole, sometimes carrying a traffic light (with a lamp) or a traffic sign."""
    cam, rng = scene.camera, scene.rng
    height = rng.uniform(4.5, 7.0)
    parts = [('pole', 'pole', cam.sprite(x, depth, 0.25, height, _box(0, 0, 1, 1)), None)]
    kind = rng.choice(['light', 'sign', 'none'], p=[0.4, 0.4, 0.2])
    if kind == 'light':
        box = cam.sprite(x, depth, 0.45, height, _box(-0.1, 0.8, 1.1, 1.0))
        lamp_v = rng.choice([0.83, 0.9, 0.96])
        lamp = cam.sprite(x, depth, 0.45, height, _ellipse(0.5, lamp_v, 0.3, 0.02, 8))
        parts += [('traffic light', 'traffic light', box, None),
                  ('traffic light', 'lamp', lamp, None)]
    elif kind == 'sign':
        shape = rng.choice(['square', 'circle', 'triangle'])
        outline = {'square': _box(0, 0, 1, 1), 'circle': _ellipse(0.5, 0.5, 0.5, 0.5),
                   'triangle': [(0, 1), (1, 1), (0.5, 0)]}[shape]
        size, base = rng.uniform(0.6, 0.9), rng.uniform(2.2, 3.2)
        sign = [cam.point(x + (u - 0.5) * size, base + v * size, depth) for u, v in outline]
        parts.append(('traffic sign', 'traffic sign', sign, None))
    scene.group(depth, parts)


def _wheels(rear=True):
    if rear:
        return [_box(0.05, 0, 0.22, 0.2), _box(0.78, 0, 0.95, 0.2)]
    return [_ellipse(0.2, 0.17, 0.17, 0.17), _ellipse(0.8, 0.17, 0.17, 0.17)]


def _add_vehicle(scene, kind, x, depth):
    """A car, truck, bus or tram seen from behind (body, glass, tyres, tail lights)."""
    cam, rng = scene.camera, scene.rng
    size = {'car': (1.8, 1.5), 'truck': (2.5, 3.3), 'bus': (2.55, 3.1), 'train': (2.6, 3.5)}[kind]
    if kind == 'car':
        body = [(0, 0.12), (0, 0.55), (0.08, 0.62), (0.18, 1.0), (0.82, 1.0), (0.92, 0.62),
                (1, 0.55), (1, 0.12)]
        glass = _box(0.22, 0.65, 0.78, 0.94)
    elif kind == 'truck':
        body, glass = _box(0, 0.12, 1, 1), None
    else:
        body = [(0, 0.1), (0, 0.95), (0.04, 1.0), (0.96, 1.0), (1, 0.95), (1, 0.1)]
        glass = _box(0.06, 0.55, 0.94, 0.88)
    colour = _pick(rng, kind)
    parts = [] if kind == 'train' else [
        (kind, 'tyre', cam.sprite(x, depth, size[0], size[1], wheel), None)
        for wheel in _wheels()]
    parts.append((kind, kind, cam.sprite(x, depth, size[0], size[1], body), colour))
    if glass is not None:
        parts.append((kind, 'glass', cam.sprite(x, depth, size[0], size[1], glass), None))
    for u in (0.04, 0.84):
        parts.append((kind, 'taillight',
                      cam.sprite(x, depth, size[0], size[1], _box(u, 0.3, u + 0.12, 0.4)), None))
    scene.group(depth, parts)


def _person_shape(scene, x, depth, base, height, label):
    """Head, torso and legs of a person (or rider) standing at ``base`` metres above ground."""
    cam = scene.camera
    width = 0.5 * height / 1.75

    def part(shape):
        return [cam.point(x + (u - 0.5) * width, base + v * height, depth) for u, v in shape]

    legs = [(0.2, 0), (0.45, 0), (0.5, 0.4), (0.55, 0), (0.8, 0), (0.72, 0.5), (0.28, 0.5)]
    torso = [(0.15, 0.45), (0.85, 0.45), (0.9, 0.8), (0.1, 0.8)]
    head = _ellipse(0.5, 0.89, 0.2, 0.09, 10)
    return [(label, 'clothes', part(legs), None), (label, 'clothes', part(torso), None),
            (label, 'skin', part(head), None)]


def _add_person(scene, x, depth):
    scene.group(depth, _person_shape(scene, x, depth, 0.0, scene.rng.uniform(1.55, 1.9),
                                     'person'))


def _add_two_wheeler(scene, kind, x, depth, ridden):
    """A bicycle or motorcycle seen from the side, with or without a rider."""
    cam, rng = scene.camera, scene.rng
    length, height = (1.7, 1.0) if kind == 'bicycle' else (2.0, 1.1)
    parts = [(kind, 'tyre', cam.sprite(x, depth, length, height, wheel), None)
             for wheel in _wheels(rear=False)]
    frame = ([(0.2, 0.2), (0.45, 0.75), (0.75, 0.8), (0.8, 0.2), (0.7, 0.25), (0.5, 0.6),
              (0.3, 0.2)] if kind == 'bicycle' else
             [(0.15, 0.3), (0.3, 0.65), (0.7, 0.7), (0.85, 0.35), (0.6, 0.25)])
    parts.append((kind, kind, cam.sprite(x, depth, length, height, frame), None))
    if ridden:
        parts += _person_shape(scene, x, depth, height * 0.45, rng.uniform(1.4, 1.6),
                               'rider')
    scene.group(depth, parts)


def _street_layout(rng):
    road = rng.uniform(3.0, 5.0)
    walk = rng.uniform(2.0, 3.5)
    layout = dict(road_half_width=road, sidewalk_width=walk, train=rng.random() < 0.12,
                  terrain={}, boundary={}, building_offset={})
    # Centre line, sometimes edge lines too; cars drive between them at +-road/2.
    layout['lane_lines'] = [0.0] + ([-road + 0.3, road - 0.3] if rng.random() < 0.5 else [])
    for side in (-1, 1):
        layout['terrain'][side] = rng.random() < 0.45
        extra = rng.uniform(1.5, 4.0) if layout['terrain'][side] else 0.0
        layout['building_offset'][side] = road + walk + extra
        layout['boundary'][side] = rng.choice([None, 'wall', 'fence', 'hedge'],
                                              p=[0.3, 0.25, 0.25, 0.2])
    return layout


def _add_things(scene, street):
    """Trees, poles, vehicles, persons and riders at random depths."""
    rng = scene.rng
    road, walk = street['road_half_width'], street['sidewalk_width']
    for _ in range(rng.integers(1, 5)):
        side = rng.choice([-1, 1])
        _add_tree(scene, side * (road + walk - 0.6), rng.uniform(5, 60))
    for _ in range(rng.integers(2, 6)):
        _add_pole(scene, rng.choice([-1, 1]) * (road + 0.4), rng.uniform(4, 50))
    lanes = [-road / 2, road / 2]
    for _ in range(rng.integers(2, 7)):
        parked = rng.random() < 0.35
        x = (rng.choice([-1, 1]) * (road - 1.1) if parked else
             rng.choice(lanes) + rng.uniform(-0.3, 0.3))
        _add_vehicle(scene, 'car', x, rng.uniform(6, 70))
    for kind, prob in (('truck', 0.35), ('bus', 0.25)):
        if rng.random() < prob:
            _add_vehicle(scene, kind, rng.choice(lanes), rng.uniform(10, 60))
    if street['train']:
        _add_vehicle(scene, 'train', 0.0, rng.uniform(12, 50))
    for _ in range(rng.integers(1, 6)):
        side = rng.choice([-1, 1])
        _add_person(scene, side * (road + rng.uniform(0.4, walk - 0.3)), rng.uniform(4, 40))
    for _ in range(rng.integers(0, 3)):
        kind = 'motorcycle' if rng.random() < 0.35 else 'bicycle'
        side = rng.choice([-1, 1])
        _add_two_wheeler(scene, kind, side * (road - 0.8), rng.uniform(6, 40), ridden=True)
    if rng.random() < 0.4:
        side = rng.choice([-1, 1])
        _add_two_wheeler(scene, 'bicycle', side * (road + walk - 0.5), rng.uniform(5, 30),
                         ridden=False)


def _clip_polygon(points, width, height):
    """Sutherland-Hodgman clipping of a polygon to the image rectangle, rounded to integers."""
    bounds = [(0, 0, 1), (0, width - 1, -1), (1, 0, 1), (1, height - 1, -1)]
    pts = [(float(x), float(y)) for x, y in points]
    for axis, limit, sign in bounds:
        if not pts:
            break
        kept = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            cur_in = sign * (cur[axis] - limit) >= 0
            prev_in = sign * (prev[axis] - limit) >= 0
            if cur_in != prev_in:
                t = (limit - prev[axis]) / (cur[axis] - prev[axis])
                kept.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if cur_in:
                kept.append(cur)
        pts = kept
    rounded = []
    for x, y in pts:
        p = (int(round(x)), int(round(y)))
        if not rounded or rounded[-1] != p:
            rounded.append(p)
    if len(rounded) > 1 and rounded[0] == rounded[-1]:
        rounded.pop()
    return rounded


def compose_scene(rng, width, height, ego_vehicle=False):
    """A random street scene: SceneObjects (integer polygons inside the image), back to front."""
    camera = Camera(width, height, rng)
    scene = SceneBuilder(camera, rng)
    street = _street_layout(rng)
    _add_street(scene, street)
    _add_things(scene, street)
    if ego_vehicle:  # the hood of the recording car, as at the bottom of Cityscapes frames
        top = height * rng.uniform(0.05, 0.08)
        hood = [(0, height - 1), (0, height - 1 - 0.7 * top), (0.25 * width, height - 1 - top),
                (0.75 * width, height - 1 - top), (width - 1, height - 1 - 0.7 * top),
                (width - 1, height - 1)]
        scene.add('ego vehicle', 'ego vehicle', hood)
    objects = []
    for obj in scene.objects():
        polygon = _clip_polygon(obj.polygon, width, height)
        if len(polygon) >= 3:
            objects.append(SceneObject(obj.label, obj.look, polygon, obj.colour))
    return objects


def rasterize(objects, width, height):
    """Object index map (H×W int32, 0 = nothing, i+1 = objects[i]), drawn in order like
    cityscapesscripts' json2labelImg draws polygons."""
    canvas = Image.new('I', (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for i, obj in enumerate(objects):
        draw.polygon(obj.polygon, fill=i + 1)
    return np.asarray(canvas, dtype=np.int32)


def _domain_colour(colour, domain):
    """Source: saturated and bright (synthetic); target: desaturated, darker, warm shift."""
    rgb = np.asarray(colour, dtype=np.float32)
    grey = rgb.mean()
    if domain == 'source':
        rgb = (grey + 1.45 * (rgb - grey)) * 1.05
    else:
        rgb = (grey + 0.5 * (rgb - grey)) * np.array([0.88, 0.86, 0.8]) + np.array([16, 14, 10])
    return np.clip(rgb, 0, 255)


def render_image(objects, index_map, domain, rng):
    """The RGB image (H×W×3 uint8) of a rasterised scene in the 'source' or 'target' style."""
    if domain not in DOMAIN_CODES:
        raise ValueError(f"domain must be 'source' or 'target', got {domain!r}")
    height, width = index_map.shape
    colours = np.zeros((len(objects) + 1, 3), dtype=np.float32)
    for i, obj in enumerate(objects):
        colours[i + 1] = _domain_colour(obj.colour, domain)
    image = colours[index_map]
    if domain == 'source':  # flat shading, hard edges, almost no noise
        image += rng.normal(0.0, 1.5, image.shape).astype(np.float32)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)
    texture = np.array([0.0] + [TARGET_TEXTURE.get(obj.look, DEFAULT_TEXTURE)
                                for obj in objects], dtype=np.float32)[index_map]
    image += rng.normal(0.0, 1.0, (height, width, 1)).astype(np.float32) * texture[..., None]
    blotches = rng.normal(0.0, 1.0, (height // 8 + 2, width // 8 + 2)).astype(np.float32)
    blotches = cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xs / width - 0.5, ys / height - 0.5
    # Sun from one side plus vignetting: a smooth gain over the frame.
    gain = (1.0 + rng.uniform(-0.35, 0.35) * xs + rng.uniform(-0.2, 0.2) * ys
            - 0.4 * (xs ** 2 + ys ** 2) + 0.08 * blotches)
    image *= gain[..., None]
    image = cv2.GaussianBlur(image, (0, 0), sigmaX=0.6 + width / 2048)
    # Evening light: lower exposure and contrast under a warm colour cast. This is the part of
    # the gap a network trained on the source cannot bridge without target images.
    image = EVENING_GAIN * image + EVENING_OFFSET
    image += rng.normal(0.0, 4.0, image.shape).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def make_scene(rng, width, height, domain):
    """One scene: (RGB image H×W×3 uint8, Cityscapes label IDs H×W uint8, objects)."""
    objects = compose_scene(rng, width, height, ego_vehicle=domain == 'target')
    index_map = rasterize(objects, width, height)
    to_label_id = np.array([name2label['unlabeled'].id] +
                           [name2label[obj.label].id for obj in objects], dtype=np.uint8)
    image = render_image(objects, index_map, domain, rng)
    return image, to_label_id[index_map], objects


def _label_id_palette():
    palette = np.zeros((256, 3), dtype=np.uint8)
    for label_id, label in id2label.items():
        if 0 <= label_id < 256:
            palette[label_id] = label.color
    return palette.ravel().tolist()


def write_gta_sample(gta_root, index, image, label_ids):
    """``images/NNNNN.png`` and ``labels/NNNNN.png`` (palette PNG of label IDs, like GTA's)."""
    name = f'{index + 1:05d}.png'
    Image.fromarray(image, mode='RGB').save(osp.join(gta_root, 'images', name))
    label = Image.fromarray(label_ids, mode='L').convert('P')
    label.putpalette(_label_id_palette())
    label.save(osp.join(gta_root, 'labels', name))


def write_cityscapes_sample(cs_root, split, city, frame, image, label_ids, objects):
    """leftImg8bit image, gtFine polygons JSON (drawn in order) and labelIds PNG of one frame."""
    base = f'{city}_000000_{frame:06d}'
    img_dir = osp.join(cs_root, 'leftImg8bit', split, city)
    gt_dir = osp.join(cs_root, 'gtFine', split, city)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(gt_dir, exist_ok=True)
    Image.fromarray(image, mode='RGB').save(osp.join(img_dir, f'{base}_leftImg8bit.png'))
    height, width = label_ids.shape
    annotation = dict(imgHeight=height, imgWidth=width, objects=[
        dict(label=obj.label, polygon=[[x, y] for x, y in obj.polygon]) for obj in objects])
    with open(osp.join(gt_dir, f'{base}_gtFine_polygons.json'), 'w') as f:
        json.dump(annotation, f)
    Image.fromarray(label_ids, mode='L').save(osp.join(gt_dir, f'{base}_gtFine_labelIds.png'))


def _marked_dataset(root):
    """The --dataset name that the marker file of ``root`` records; None without a marker or
    for toy GTA + Cityscapes (their marker has no 'dataset')."""
    path = osp.join(root, MARKER_FILE)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    return marker.get('dataset') if isinstance(marker, dict) else None


def _prepare_output(out_root):
    """Clear an earlier toy data set in ``out_root``; refuse to touch data we did not make."""
    existing = [d for d in ('gta', 'cityscapes') if osp.exists(osp.join(out_root, d))]
    if existing and not osp.exists(osp.join(out_root, MARKER_FILE)):
        raise UserFileExistsError(
            f'{out_root} already holds {", ".join(existing)} not made by make_toy_data.py '
            f'(no {MARKER_FILE}); choose another --out or remove them')
    other = _marked_dataset(out_root)
    if other is not None:
        raise UserFileExistsError(
            f'{out_root} holds the toy {other} data set ({MARKER_FILE} says so), not toy GTA and '
            f'Cityscapes; choose another --out (default data/toy) or remove it')
    for d in existing:
        shutil.rmtree(osp.join(out_root, d))
    if existing and osp.exists(osp.join(out_root, WARM_START_FILE)):
        os.remove(osp.join(out_root, WARM_START_FILE))
    os.makedirs(osp.join(out_root, 'gta', 'images'))
    os.makedirs(osp.join(out_root, 'gta', 'labels'))


def _scene_rng(seed, domain, split, index):
    # One generator per image: an image depends only on (seed, domain, split, index).
    return np.random.default_rng([seed, DOMAIN_CODES[domain], split, index])


def _check_arguments(num_source, num_target_train, num_target_val, size):
    counts = dict(num_source=num_source, num_target_train=num_target_train,
                  num_target_val=num_target_val)
    for name, value in counts.items():
        minimum = 0 if name == 'num_target_val' else 1
        if int(value) != value or value < minimum:
            raise UserInputError(f'{name} must be an integer >= {minimum}, got {value!r}')
    if len(size) != 2 or min(size) < 16:
        raise UserInputError(f'size must be (width, height) with both >= 16, got {size!r}')


def generate_toy_data(out_root, num_source, num_target_train, num_target_val, size=(256, 128),
                      seed=0, convert=True):
    """Write toy GTA (``out_root/gta``) and toy Cityscapes (``out_root/cityscapes``).

    With ``convert`` the GTA and Cityscapes converters run in-process afterwards (train-ID PNGs,
    split lists, rare-class statistics). Returns ``dict(gta=path, cityscapes=path)``.
    """
    from tqdm import tqdm
    _check_arguments(num_source, num_target_train, num_target_val, size)
    width, height = int(size[0]), int(size[1])
    out_root = str(out_root)
    _prepare_output(out_root)
    gta_root, cs_root = osp.join(out_root, 'gta'), osp.join(out_root, 'cityscapes')
    jobs = ([('source', 0, i) for i in range(num_source)] +
            [('target', 0, i) for i in range(num_target_train)] +
            [('target', 1, i) for i in range(num_target_val)])
    for domain, split, index in tqdm(jobs, desc='toy scenes', unit='image'):
        image, label_ids, objects = make_scene(_scene_rng(seed, domain, split, index), width,
                                               height, domain)
        if domain == 'source':
            write_gta_sample(gta_root, index, image, label_ids)
        else:
            cities = TRAIN_CITIES if split == 0 else VAL_CITIES
            write_cityscapes_sample(cs_root, ('train', 'val')[split], cities[index % len(cities)],
                                    index, image, label_ids, objects)
    with open(osp.join(out_root, MARKER_FILE), 'w') as f:
        json.dump(dict(num_source=num_source, num_target_train=num_target_train,
                       num_target_val=num_target_val, size=[width, height], seed=seed), f)
    if convert:
        from tools.convert_datasets.cityscapes import convert_cityscapes
        from tools.convert_datasets.gta import convert_gta
        convert_gta(gta_root, nproc=1)
        convert_cityscapes(cs_root, nproc=1)
    return dict(gta=gta_root, cityscapes=cs_root)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate toy street scenes in the GTA and Cityscapes layouts')
    parser.add_argument('--out', help='output root (default: data/toy, with --dataset '
                                      'data/toy_<dataset>)')
    parser.add_argument('--dataset', help='instead of toy GTA and Cityscapes, one of: '
                        'bdd100k, mapillary, wilddash2, synscapes, urbansyn, foggy_zurich, '
                        'foggy_driving, nighttime_driving (docs/dataset_prepare.md)')
    parser.add_argument('--num-images', type=int, default=4,
                        help='with --dataset: images per split')
    parser.add_argument('--num-source', type=int, default=100, help='toy GTA images')
    parser.add_argument('--num-train', type=int, default=60, help='toy Cityscapes train images')
    parser.add_argument('--num-val', type=int, default=20, help='toy Cityscapes val images')
    parser.add_argument('--size', type=int, nargs=2, default=[256, 128], metavar=('W', 'H'),
                        help='image width and height')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-convert', dest='convert', action='store_false',
                        help='skip the converters (no *_labelTrainIds.png, no statistics)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.dataset is not None:
        from tools.toy_datasets import generate_toy_dataset
        root = generate_toy_dataset(args.dataset, args.out or f'data/toy_{args.dataset}',
                                    args.num_images, size=tuple(args.size), seed=args.seed,
                                    convert=args.convert)
        print(f'toy {args.dataset} written: {root}')
        return 0
    args.out = args.out or 'data/toy'
    roots = generate_toy_data(args.out, args.num_source, args.num_train, args.num_val,
                              size=tuple(args.size), seed=args.seed, convert=args.convert)
    print(f'toy data written: {roots["gta"]} and {roots["cityscapes"]}')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, 'make the toy data'))
