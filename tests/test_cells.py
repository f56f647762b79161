"""Recurrent cells: exactness against nn.LSTMCell, gradient flow, and the lecture's toy."""

import torch
from torch import nn

from framepred.models import ConvLSTM, ConvLSTMCell, ConvRNNCell


def test_convlstm_kernel1_on_1x1_equals_lstmcell():
    torch.manual_seed(0)
    in_chs, hid, b = 5, 7, 3
    ref = nn.LSTMCell(in_chs, hid)
    cell = ConvLSTMCell(in_chs, hid, kernel_size=1, forget_bias=0.0)
    # torch orders the gates (i, f, g, o); ours are (i, f, o, g).
    order = [0, 1, 3, 2]
    w_ih = ref.weight_ih.view(4, hid, in_chs)[order].reshape(4 * hid, in_chs)
    w_hh = ref.weight_hh.view(4, hid, hid)[order].reshape(4 * hid, hid)
    bias = (ref.bias_ih + ref.bias_hh).view(4, hid)[order].reshape(-1)
    with torch.no_grad():
        cell.gates.weight.copy_(torch.cat([w_ih, w_hh], dim=1)[..., None, None])
        cell.gates.bias.copy_(bias)
    x = torch.randn(4, b, in_chs)
    h_ref = torch.randn(b, hid)
    c_ref = torch.randn(b, hid)
    state = (h_ref[..., None, None].clone(), c_ref[..., None, None].clone())
    for t in range(4):
        h_ref, c_ref = ref(x[t], (h_ref, c_ref))
        state = cell(x[t][..., None, None], state)
        torch.testing.assert_close(state[0][..., 0, 0], h_ref, atol=1e-5, rtol=0)
        torch.testing.assert_close(state[1][..., 0, 0], c_ref, atol=1e-5, rtol=0)


def test_hoisted_input_convolution_matches_stepwise():
    torch.manual_seed(0)
    for cell_kind in ("convlstm", "convrnn"):
        stack = ConvLSTM(3, [6, 5], kernel_size=3, cell=cell_kind)
        x = torch.randn(2, 5, 3, 9, 11)
        out, states = stack(x)
        # Reference: call each cell with the concatenated [x, h] convolution, step by step.
        seq = x
        for li, cell in enumerate(stack.cells):
            state, outs = None, []
            for t in range(seq.shape[1]):
                state = cell(seq[:, t], state)
                outs.append(state[0])
            seq = torch.stack(outs, 1)
            torch.testing.assert_close(states[li][0], state[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out, seq, atol=1e-5, rtol=1e-5)


def test_states_pass_through_and_continue_a_sequence():
    torch.manual_seed(0)
    stack = ConvLSTM(2, [4, 4], peephole=True, norm_groups=2)
    x = torch.randn(1, 6, 2, 8, 8)
    full, _ = stack(x)
    first, states = stack(x[:, :3])
    second, _ = stack(x[:, 3:], states)
    torch.testing.assert_close(torch.cat([first, second], 1), full, atol=1e-5, rtol=1e-5)


def test_gradients_reach_the_first_time_step():
    torch.manual_seed(0)
    for cell_kind in ("convlstm", "convrnn"):
        stack = ConvLSTM(2, [4], cell=cell_kind)
        x = torch.randn(1, 12, 2, 6, 6, requires_grad=True)
        out, _ = stack(x)
        out[:, -1].sum().backward()
        assert x.grad is not None
        assert x.grad[:, 0].abs().sum() > 0, cell_kind


def test_peephole_weights_change_the_output():
    torch.manual_seed(0)
    cell = ConvLSTMCell(2, 3, peephole=True)
    x = torch.randn(1, 2, 5, 5)
    state = (torch.randn(1, 3, 5, 5), torch.randn(1, 3, 5, 5))
    before = cell(x, state)[0]
    with torch.no_grad():
        cell.w_co.fill_(2.0)
    assert not torch.allclose(before, cell(x, state)[0])


def test_convrnn_is_the_plain_recurrence():
    torch.manual_seed(0)
    cell = ConvRNNCell(2, 3, kernel_size=3)
    x, h = torch.randn(1, 2, 4, 4), torch.randn(1, 3, 4, 4)
    expected = torch.tanh(cell.conv(torch.cat([x, h], 1)))
    torch.testing.assert_close(cell(x, (h, h))[0], expected)


def test_hello_toy_learns_the_next_character():
    """The lecture's toy: one-hot characters on 1x1 maps; h->e, he->l, hel->l, hell->o."""
    torch.manual_seed(0)
    chars = "helo"
    word = "hello"
    onehot = torch.eye(4)
    x = torch.stack([onehot[chars.index(c)] for c in word[:-1]])[
        None, :, :, None, None
    ]  # (1, 4, 4, 1, 1)
    y = torch.tensor([chars.index(c) for c in word[1:]])
    rnn = ConvLSTM(4, [16], kernel_size=1)
    head = nn.Conv2d(16, 4, 1)
    opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=0.05)
    for _ in range(150):
        out, _ = rnn(x)
        logits = head(out[0]).flatten(1)  # (4 steps, 4 chars)
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    predicted = "".join(chars[i] for i in logits.argmax(1).tolist())
    assert predicted == "ello"
    assert loss.item() < 0.05


def test_one_step_at_a_time_equals_the_hoisted_sequence():
    torch.manual_seed(0)
    stack = ConvLSTM(2, [4, 3])
    x = torch.randn(2, 5, 2, 7, 9)
    full, _ = stack(x)
    states, outs = None, []
    for t in range(5):
        out, states = stack(x[:, t : t + 1], states)
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 1), full, atol=1e-5, rtol=1e-5)
