"""Writes the TensorBoard event-file fixtures under test/fixtures/runlogs/ (see its README.md).

Run: /usr/bin/python3 test/reference/make_runlog_fixtures.py

The Event / Summary / TensorProto messages are declared here with the field numbers of TensorFlow's
event.proto, summary.proto and tensor.proto and serialised by Google's protobuf runtime (python3-protobuf),
so the bytes are what a real writer produces; the values are float32 draws from torch (python3-torch).
torch.utils.tensorboard itself needs the `tensorboard` package, which Debian does not ship. The TFRecord
framing (length, masked CRC32C) is written here, as tensorboard's own record_writer does.
"""
import json
import os
import struct

import torch
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

OUT = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'runlogs')

F = descriptor_pb2.FieldDescriptorProto


def _messages():
    fd = descriptor_pb2.FileDescriptorProto(name='tb_subset.proto', package='tensorboard', syntax='proto3')

    def msg(name, fields):
        m = fd.message_type.add(name=name)
        for fname, num, ftype, label, tname in fields:
            f = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                f.type_name = '.tensorboard.' + tname
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    msg('Dim', [('size', 1, F.TYPE_INT64, opt, None), ('name', 2, F.TYPE_STRING, opt, None)])
    msg('TensorShapeProto', [('dim', 2, F.TYPE_MESSAGE, rep, 'Dim')])
    msg('TensorProto', [
        ('dtype', 1, F.TYPE_INT32, opt, None),  # an enum on the wire is a varint, as int32
        ('tensor_shape', 2, F.TYPE_MESSAGE, opt, 'TensorShapeProto'),
        ('tensor_content', 4, F.TYPE_BYTES, opt, None),
        ('float_val', 5, F.TYPE_FLOAT, rep, None),  # proto3: packed by default, as TensorFlow writes it
        ('double_val', 6, F.TYPE_DOUBLE, rep, None),
    ])
    msg('PluginData', [('plugin_name', 1, F.TYPE_STRING, opt, None), ('content', 2, F.TYPE_BYTES, opt, None)])
    msg('SummaryMetadata', [('plugin_data', 1, F.TYPE_MESSAGE, opt, 'PluginData'), ('data_class', 4, F.TYPE_INT32, opt, None)])
    msg('Value', [
        ('tag', 1, F.TYPE_STRING, opt, None),
        ('simple_value', 2, F.TYPE_FLOAT, opt, None),
        ('tensor', 8, F.TYPE_MESSAGE, opt, 'TensorProto'),
        ('metadata', 9, F.TYPE_MESSAGE, opt, 'SummaryMetadata'),
    ])
    msg('Summary', [('value', 1, F.TYPE_MESSAGE, rep, 'Value')])
    msg('Event', [
        ('wall_time', 1, F.TYPE_DOUBLE, opt, None),
        ('step', 2, F.TYPE_INT64, opt, None),
        ('file_version', 3, F.TYPE_STRING, opt, None),
        ('summary', 5, F.TYPE_MESSAGE, opt, 'Summary'),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    return {n: factory.GetPrototype(pool.FindMessageTypeByName('tensorboard.' + n)) for n in
            ('Event', 'Summary', 'Value', 'TensorProto', 'SummaryMetadata', 'PluginData')}


M = _messages()


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b'123456789') == 0xE3069283  # the standard CRC-32C check value


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data):
    head = struct.pack('<Q', len(data))
    return head + struct.pack('<I', masked(head)) + data + struct.pack('<I', masked(data))


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def write(path, events):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        fh.write(record(M['Event'](wall_time=events[0][0] - 1, file_version='brain.Event:2').SerializeToString()))
        for wall, step, values in events:
            fh.write(record(M['Event'](wall_time=wall, step=step, summary=M['Summary'](value=values)).SerializeToString()))


def simple(tag, v):
    return M['Value'](tag=tag, simple_value=v)


def scalar_meta():
    return M['SummaryMetadata'](plugin_data=M['PluginData'](plugin_name='scalars'), data_class=1)


def main():
    torch.manual_seed(16)
    expected = {}

    # 1. OpenRLHF via torch.utils.tensorboard: simple_value, two files in one folder (a restart at
    #    step 4 rewrites steps 4..5 with later wall times; the later ones must win).
    tags = ['train/reward', 'train/kl', 'train/policy_loss', 'train/response_length', 'train/return', 'train/custom_thing']
    vals = torch.randn(8, len(tags)).tolist()
    first, second, exp = [], [], {t: {} for t in tags + ['eval/gold']}
    for step in range(1, 6):
        row = [f32(v) for v in vals[step - 1]]
        first.append((1_700_000_000.0 + step, step, [simple(t, v) for t, v in zip(tags, row)]))
        for t, v in zip(tags, row):
            exp[t][step] = v
    for step in range(4, 8):
        row = [f32(v + 10) for v in vals[step]]
        values = [simple(t, v) for t, v in zip(tags, row)]
        if step == 6:
            values.append(simple('eval/gold', f32(0.625)))
            exp['eval/gold'][step] = f32(0.625)
        second.append((1_700_000_100.0 + step, step, values))
        for t, v in zip(tags, row):
            exp[t][step] = v
    write(os.path.join(OUT, 'openrlhf-tb', 'events.out.tfevents.1700000000.node0.1234.0'), first)
    write(os.path.join(OUT, 'openrlhf-tb', 'events.out.tfevents.1700000100.node0.5678.0'), second)
    expected['openrlhf-tb'] = exp

    # 2. TF2 / tensorboardX new-style: scalars as one-element tensors (packed float_val, tensor_content,
    #    double_val) with the scalars plugin; a histogram-plugin tensor that must be ignored.
    kl = [f32(v) for v in torch.rand(3).tolist()]
    score = [f32(v) for v in torch.randn(3).tolist()]
    pg = torch.randn(3, dtype=torch.float64).tolist()
    events, exp = [], {'actor/ppo_kl': {}, 'critic/score/mean': {}, 'actor/pg_loss': {}}
    for i, step in enumerate([0, 10, 20]):
        values = [
            M['Value'](tag='actor/ppo_kl', metadata=scalar_meta(), tensor=M['TensorProto'](dtype=1, float_val=[kl[i]])),
            M['Value'](tag='critic/score/mean', metadata=scalar_meta(),
                       tensor=M['TensorProto'](dtype=1, tensor_content=struct.pack('<f', score[i]))),
            M['Value'](tag='actor/pg_loss', metadata=scalar_meta(), tensor=M['TensorProto'](dtype=2, double_val=[pg[i]])),
            M['Value'](tag='actor/logits_hist', metadata=M['SummaryMetadata'](plugin_data=M['PluginData'](plugin_name='histograms')),
                       tensor=M['TensorProto'](dtype=2, double_val=[pg[i]])),
        ]
        events.append((1_700_001_000.0 + i, step, values))
        exp['actor/ppo_kl'][step] = kl[i]
        exp['critic/score/mean'][step] = score[i]
        exp['actor/pg_loss'][step] = pg[i]
    write(os.path.join(OUT, 'verl-tf2.tfevents'), events)
    expected['verl-tf2.tfevents'] = exp

    with open(os.path.join(OUT, 'expected.json'), 'w') as fh:
        json.dump({k: {t: {str(s): v for s, v in d.items()} for t, d in e.items()} for k, e in expected.items()}, fh, indent=1, sort_keys=True)
        fh.write('\n')


if __name__ == '__main__':
    main()
