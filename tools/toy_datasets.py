"""Toy versions of the datasets of docs/dataset_prepare.md in their released layouts (the
converters' input), drawn with the street-scene renderer of tools/make_toy_data.py.

Usage: python tools/make_toy_data.py --dataset NAME [--out data/toy_NAME] [--num-images N]
       [--size W H] [--seed S] [--no-convert]

Each image is a random scene (compose_scene → rasterize → render_image); its label is written
in the dataset's own encoding: Cityscapes train IDs (BDD100K, UrbanSyn, Foggy Zurich, Nighttime
Driving), Cityscapes label IDs (Synscapes, Foggy Driving), Mapillary Vistas v1.2 class indices
in a palette PNG, or WildDash2 panoptic PNG + JSON. Synthetic datasets use the flat 'source'
look; real ones the 'target' look, with fog (Foggy Zurich/Driving) or night on top.
"""
import json
import os
import os.path as osp
import shutil

import numpy as np
from cityscapesscripts.helpers.labels import name2label
from PIL import Image

from mmseg.utils.errors import UserFileExistsError, UserInputError

__all__ = ['TOY_DATASETS', 'MAPILLARY_IDS', 'WILDDASH2_CATEGORIES', 'generate_toy_dataset']

MARKER_FILE = 'toy_data.json'
# Mapillary Vistas v1.2 class index of each Cityscapes label name the scenes use (the Vistas
# class of the same name; lane markings, look 'marking', are 'marking--general' = 24).
MAPILLARY_IDS = {
    'unlabeled': 65, 'ego vehicle': 64, 'road': 13, 'sidewalk': 15, 'rail track': 12,
    'building': 17, 'wall': 6, 'fence': 3, 'pole': 45, 'traffic light': 48,
    'traffic sign': 50, 'vegetation': 30, 'terrain': 29, 'sky': 27, 'person': 19, 'rider': 20,
    'car': 55, 'truck': 61, 'bus': 54, 'train': 58, 'motorcycle': 57, 'bicycle': 52,
}
MAPILLARY_LANE_MARKING = 24
# WildDash2 categories 0-38 (name, isthing) as in its label policy; ids 0-33 are Cityscapes'.
WILDDASH2_CATEGORIES = [
    ('unlabeled', 0), ('egovehicle', 1), ('overlay', 0), ('outofroi', 0), ('static', 0),
    ('dynamic', 0), ('ground', 0), ('road', 0), ('sidewalk', 0), ('parking', 0),
    ('railtrack', 0), ('building', 0), ('wall', 0), ('fence', 0), ('guardrail', 0),
    ('bridge', 0), ('tunnel', 0), ('pole', 1), ('polegroup', 0), ('trafficlight', 1),
    ('trafficsign', 1), ('vegetation', 0), ('terrain', 0), ('sky', 0), ('person', 1),
    ('rider', 1), ('car', 1), ('truck', 1), ('bus', 1), ('caravan', 1), ('trailer', 1),
    ('onrails', 1), ('motorcycle', 1), ('bicycle', 1), ('pickup', 1), ('van', 1),
    ('billboard', 1), ('streetlight', 1), ('roadmarking', 0),
]
WILDDASH2_VAN, WILDDASH2_PICKUP, WILDDASH2_ROAD_MARKING = 35, 34, 38
URBANSYN_UNLABELLED = 19  # ss/*.png hold train IDs; the converter maps 19 (and up) to 255


class ToyScene:
    """One rendered scene: image (H×W×3 uint8 RGB), objects, index map (H×W, 0 = none)."""

    def __init__(self, seed, code, index, size, domain, ego_vehicle, weather=None):
        from tools.make_toy_data import compose_scene, rasterize, render_image
        rng = np.random.default_rng([seed, 100 + code, index])
        width, height = size
        self.objects = compose_scene(rng, width, height, ego_vehicle=ego_vehicle)
        self.index_map = rasterize(self.objects, width, height)
        self.image = _weather(render_image(self.objects, self.index_map, domain, rng),
                              weather, rng)

    def per_object(self, values, background):
        """H×W array of ``values[i]`` on the pixels of object i (``background`` elsewhere)."""
        table = np.array([background] + list(values), dtype=np.int64)
        return table[self.index_map]

    def label_ids(self):
        return self.per_object([name2label[o.label].id for o in self.objects],
                               name2label['unlabeled'].id).astype(np.uint8)

    def train_ids(self, unlabelled=255):
        ids = [name2label[o.label].trainId for o in self.objects]
        return self.per_object([unlabelled if t in (255, -1) else t for t in ids],
                               unlabelled).astype(np.uint8)


def _weather(image, weather, rng):
    """Fog (a light veil, denser towards the horizon) or night (dark, blue, noisy)."""
    if weather is None:
        return image
    img = image.astype(np.float32)
    height = img.shape[0]
    if weather == 'fog':
        veil = np.clip(0.75 - 0.45 * np.arange(height, dtype=np.float32) / height, 0, 1)
        img = img * (1 - veil[:, None, None]) + 200.0 * veil[:, None, None]
    else:  # night
        img = img * np.array([0.28, 0.3, 0.38], dtype=np.float32) + 4.0
        img += rng.normal(0.0, 3.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _save(path, array, mode=None):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def _boundary(labels, width=0):
    """Pixels within ``width`` of an edge between two classes of ``labels`` (H×W): coarse
    annotations leave them unlabelled."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    grown = edge.copy()
    for shift in range(1, width + 1):
        grown[:, shift:] |= edge[:, :-shift]
        grown[:, :-shift] |= edge[:, shift:]
        grown[shift:, :] |= edge[:-shift, :]
        grown[:-shift, :] |= edge[shift:, :]
    return grown


def _hex_name(rng, groups):
    return '-'.join(''.join(f'{v:02x}' for v in rng.integers(0, 256, 4)) for _ in range(groups))


# --------------------------------------------------------------------------- writers
def write_bdd100k(root, num, size, seed):
    """images/10k/{train,val}/<id>.jpg, labels/sem_seg/masks/{train,val}/<id>.png (train IDs)."""
    for s, split in enumerate(('train', 'val')):
        for i in range(num):
            scene = ToyScene(seed, 0, s * 1000 + i, size, 'target', ego_vehicle=True)
            name = _hex_name(np.random.default_rng([seed, s, i]), 2)
            _save(osp.join(root, 'images', '10k', split, name + '.jpg'), scene.image)
            _save(osp.join(root, 'labels', 'sem_seg', 'masks', split, name + '.png'),
                  scene.train_ids(), 'L')


def mapillary_label(scene):
    """Vistas v1.2 class index per pixel (H×W uint8) of a toy scene."""
    values = [MAPILLARY_LANE_MARKING if o.look == 'marking' else MAPILLARY_IDS[o.label]
              for o in scene.objects]
    return scene.per_object(values, MAPILLARY_IDS['unlabeled']).astype(np.uint8)


def write_mapillary(root, num, size, seed):
    """<split>/images/<id>.jpg and <split>/v1.2/labels/<id>.png (palette PNG of class indices),
    split in training, validation."""
    palette = (np.arange(256 * 3, dtype=np.int64) * 37 % 256).astype(np.uint8).tolist()
    for s, split in enumerate(('training', 'validation')):
        for i in range(num):
            scene = ToyScene(seed, 1, s * 1000 + i, size, 'target', ego_vehicle=True)
            name = _hex_name(np.random.default_rng([seed, 10 + s, i]), 3).replace('-', '')[:22]
            _save(osp.join(root, split, 'images', name + '.jpg'), scene.image)
            label = Image.fromarray(mapillary_label(scene), mode='L').convert('P')
            label.putpalette(palette)
            os.makedirs(osp.join(root, split, 'v1.2', 'labels'), exist_ok=True)
            label.save(osp.join(root, split, 'v1.2', 'labels', name + '.png'))


def wilddash2_categories(scene):
    """WildDash2 category id of each object: Cityscapes' label id, with lane markings as
    road marking, every second car a van and every second truck a pickup."""
    categories, cars, trucks = [], 0, 0
    for obj in scene.objects:
        category = name2label[obj.label].id
        if obj.look == 'marking':
            category = WILDDASH2_ROAD_MARKING
        elif obj.label == 'car' and obj.look == 'car':
            cars += 1
            category = WILDDASH2_VAN if cars % 2 == 0 else category
        elif obj.label == 'truck' and obj.look == 'truck':
            trucks += 1
            category = WILDDASH2_PICKUP if trucks % 2 == 0 else category
        categories.append(category)
    # Parts of one vehicle (tyres, glass, lights) take the category of its body.
    for i, obj in enumerate(scene.objects):
        if obj.label in ('car', 'truck') and obj.look != obj.label:
            body = next((j for j in range(i + 1, min(i + 8, len(categories)))
                         if scene.objects[j].look == obj.label), None)
            if body is None:
                body = next((j for j in range(i - 1, max(i - 8, -1), -1)
                             if scene.objects[j].look == obj.label), None)
            if body is not None:  # else the body was clipped away: the part keeps its id
                categories[i] = categories[body]
    return categories


def _panoptic_segments(scene):
    """(segment id per pixel H×W, segments_info): stuff merged per category, things per object."""
    categories = wilddash2_categories(scene)
    is_thing = dict(enumerate(t for _, t in WILDDASH2_CATEGORIES))
    segment_of, segments, stuff = [], {}, {}
    for i, category in enumerate(categories):
        if is_thing[category]:
            segment_id = category * 65536 + 256 * (i // 255) + i % 255 + 1
        else:
            segment_id = stuff.setdefault(category, category * 65536 + 0x8000)
        segment_of.append(segment_id)
        segments[segment_id] = category
    ids = scene.per_object(segment_of, 0)
    info = []
    for segment_id, category in segments.items():
        area = int((ids == segment_id).sum())
        if area:
            info.append(dict(id=int(segment_id), category_id=int(category), area=area,
                             iscrowd=0))
    return ids, info


def write_wilddash2(root, num, size, seed):
    """images/<name>.jpg, panoptic/<name>.png (segment id = R + 256·G + 256²·B) and
    panoptic.json (COCO panoptic: images, annotations, categories)."""
    images, annotations = [], []
    for i in range(num):
        scene = ToyScene(seed, 2, i, size, 'target', ego_vehicle=True)
        name = f'{("at", "de", "us", "br")[i % 4]}{i:04d}'
        _save(osp.join(root, 'images', name + '.jpg'), scene.image)
        ids, info = _panoptic_segments(scene)
        rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
        _save(osp.join(root, 'panoptic', name + '.png'), rgb, 'RGB')
        images.append(dict(id=name, file_name=name + '.jpg', width=size[0], height=size[1]))
        annotations.append(dict(image_id=name, file_name=name + '.png', segments_info=info))
    categories = [dict(id=i, name=n, isthing=t) for i, (n, t) in enumerate(WILDDASH2_CATEGORIES)]
    with open(osp.join(root, 'panoptic.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)


def write_synscapes(root, num, size, seed):
    """img/rgb/<n>.png, img/class/<n>.png (Cityscapes label IDs), meta/<n>.json (n from 1)."""
    for i in range(1, num + 1):
        scene = ToyScene(seed, 3, i, size, 'source', ego_vehicle=False)
        _save(osp.join(root, 'img', 'rgb', f'{i}.png'), scene.image)
        _save(osp.join(root, 'img', 'class', f'{i}.png'), scene.label_ids(), 'L')
        os.makedirs(osp.join(root, 'meta'), exist_ok=True)
        with open(osp.join(root, 'meta', f'{i}.json'), 'w') as f:
            json.dump(dict(scene=dict(toy_seed=seed, index=i)), f)


def write_urbansyn(root, num, size, seed):
    """rgb/rgb_<nnnn>.png and ss/ss_<nnnn>.png (train IDs, 19 = unlabelled), n from 1."""
    for i in range(1, num + 1):
        scene = ToyScene(seed, 4, i, size, 'source', ego_vehicle=False)
        _save(osp.join(root, 'rgb', f'rgb_{i:04d}.png'), scene.image)
        _save(osp.join(root, 'ss', f'ss_{i:04d}.png'), scene.train_ids(URBANSYN_UNLABELLED), 'L')


def write_foggy_zurich(root, num, size, seed):
    """RGB/<seq>/<id>.png (labelled and as many unlabelled), gt_labelTrainIds and gt_labelIds
    for the labelled, and the lists RGB_testv2 / gt_labelTrainIds_testv2 / RGB_medium."""
    lists = {'RGB_testv2': [], 'gt_labelTrainIds_testv2': [], 'RGB_medium': []}
    for i in range(2 * num):
        scene = ToyScene(seed, 5, i, size, 'target', ego_vehicle=True, weather='fog')
        rel = f'GOPR{478 + i % 2:04d}/{1508040913 + 7 * i}.0_frame_{37 * i:06d}.png'
        _save(osp.join(root, 'RGB', rel), scene.image)
        if i < num:
            _save(osp.join(root, 'gt_labelTrainIds', rel), scene.train_ids(), 'L')
            _save(osp.join(root, 'gt_labelIds', rel), scene.label_ids(), 'L')
            lists['RGB_testv2'].append('RGB/' + rel)
            lists['gt_labelTrainIds_testv2'].append('gt_labelTrainIds/' + rel)
        else:
            lists['RGB_medium'].append('RGB/' + rel)
    _write_lists(root, lists)


def _write_lists(root, lists):
    os.makedirs(osp.join(root, 'lists_file_names'), exist_ok=True)
    for name, lines in lists.items():
        with open(osp.join(root, 'lists_file_names', f'{name}_filenames.txt'), 'w') as f:
            f.write(''.join(line + '\n' for line in lines))


def write_foggy_driving(root, num, size, seed):
    """leftImg8bit/test/<record>/*_leftImg8bit.png with gtFine/test/*_gtFine_labelIds.png, as
    many in test_extra with coarse gtCoarse/test_extra/*_gtCoarse_labelIds.png (label IDs)."""
    lists = {'leftImg8bit_testall': [], 'leftImg8bit_testfine': []}
    for s, (split, gt, kind) in enumerate((('test', 'gtFine', 'fine'),
                                           ('test_extra', 'gtCoarse', 'coarse'))):
        for i in range(num):
            scene = ToyScene(seed, 6, s * 1000 + i, size, 'target', ego_vehicle=True,
                             weather='fog')
            record = ('pedestrian', 'public', 'web')[i % 3]
            stem = f'{record}/{record}_{s}{i:05d}_{7 * i:06d}'
            labels = scene.label_ids()
            if kind == 'coarse':  # coarse polygons leave the object borders unlabelled
                labels[_boundary(labels)] = name2label['unlabeled'].id
            _save(osp.join(root, 'leftImg8bit', split, stem + '_leftImg8bit.png'), scene.image)
            _save(osp.join(root, gt, split, f'{stem}_{gt}_labelIds.png'), labels, 'L')
            lists['leftImg8bit_testall'].append(f'leftImg8bit/{split}/{stem}_leftImg8bit.png')
            if kind == 'fine':
                lists['leftImg8bit_testfine'].append(f'leftImg8bit/{split}/{stem}_leftImg8bit.png')
    _write_lists(root, lists)


def write_nighttime_driving(root, num, size, seed):
    """leftImg8bit/test/night/*_leftImg8bit.png, coarse labels (train IDs and label IDs) in
    gtCoarse_daytime_trainvaltest/test/night/."""
    gt_dir = osp.join(root, 'gtCoarse_daytime_trainvaltest', 'test', 'night')
    for i in range(num):
        scene = ToyScene(seed, 7, i, size, 'target', ego_vehicle=True, weather='night')
        stem = f'{i}_frame_{120 * i:04d}'
        train_ids, label_ids = scene.train_ids(), scene.label_ids()
        border = _boundary(label_ids)
        train_ids[border], label_ids[border] = 255, name2label['unlabeled'].id
        _save(osp.join(root, 'leftImg8bit', 'test', 'night', stem + '_leftImg8bit.png'),
              scene.image)
        _save(osp.join(gt_dir, stem + '_gtCoarse_labelTrainIds.png'), train_ids, 'L')
        _save(osp.join(gt_dir, stem + '_gtCoarse_labelIds.png'), label_ids, 'L')


# The converter of each dataset whose labels are not released as train IDs, as
# (module of tools/convert_datasets, function); BDD100K's writes the statistics only.
_CONVERTERS = {
    'bdd100k': ('bdd100k', 'bdd100k_statistics'),
    'mapillary': ('mapillary', 'convert_mapillary'),
    'wilddash2': ('wilddash2', 'convert_wilddash2'),
    'synscapes': ('synscapes', 'convert_synscapes'),
    'urbansyn': ('urbansyn', 'convert_urbansyn'),
    'foggy_driving': ('foggy_driving', 'convert_foggy_driving'),
}


def _convert(name, root):
    """Run the dataset's converter in-process (none for labels released as train IDs)."""
    if name in _CONVERTERS:
        import importlib
        module, function = _CONVERTERS[name]
        getattr(importlib.import_module(f'tools.convert_datasets.{module}'), function)(root)


TOY_DATASETS = {
    'bdd100k': write_bdd100k, 'mapillary': write_mapillary, 'wilddash2': write_wilddash2,
    'synscapes': write_synscapes, 'urbansyn': write_urbansyn,
    'foggy_zurich': write_foggy_zurich, 'foggy_driving': write_foggy_driving,
    'nighttime_driving': write_nighttime_driving,
}


def _prepare_root(root, name):
    """Empty ``root`` if it holds an earlier toy ``name``; refuse to touch other data (another
    toy data set included)."""
    if osp.isdir(root) and os.listdir(root):
        if not osp.exists(osp.join(root, MARKER_FILE)):
            raise UserFileExistsError(f'{root} already holds files not made by make_toy_data.py '
                                      f'(no {MARKER_FILE}); choose another --out or remove them')
        from tools.make_toy_data import _marked_dataset
        other = _marked_dataset(root)
        if other != name:
            other = 'GTA and Cityscapes' if other is None else other
            raise UserFileExistsError(f'{root} holds the toy {other} data set ({MARKER_FILE} '
                                      f'says so), not toy {name}; choose another --out or '
                                      f'remove it')
        shutil.rmtree(root)
    os.makedirs(root, exist_ok=True)


def generate_toy_dataset(name, out_root, num_images=4, size=(256, 128), seed=0, convert=True):
    """Write the toy ``name`` (a key of TOY_DATASETS) into ``out_root`` in its released layout
    (``num_images`` per split, or labelled + as many unlabelled for Foggy Zurich), then run its
    converter when ``convert``. Returns out_root. Raises UserInputError for a bad argument."""
    if name not in TOY_DATASETS:
        raise UserInputError(f'unknown toy dataset {name!r}: expected one of '
                             f'{", ".join(TOY_DATASETS)}')
    if int(num_images) != num_images or num_images < 1:
        raise UserInputError(f'num_images must be an integer >= 1, got {num_images!r}')
    if len(size) != 2 or min(size) < 16:
        raise UserInputError(f'size must be (width, height) with both >= 16, got {size!r}')
    out_root = str(out_root)
    _prepare_root(out_root, name)
    TOY_DATASETS[name](out_root, int(num_images), (int(size[0]), int(size[1])), seed)
    with open(osp.join(out_root, MARKER_FILE), 'w') as f:
        json.dump(dict(dataset=name, num_images=num_images, size=list(size), seed=seed), f)
    if convert:
        _convert(name, out_root)
    return out_root
