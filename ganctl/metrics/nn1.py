"""Leave-one-out 1-nearest-neighbour two-sample test: how well the nearest neighbour tells real from generated.

Lopez-Paz & Oquab 2017, "Revisiting classifier two-sample tests", ICLR, arXiv:1610.06545 (classifier
two-sample tests, 1-NN among them); as a GAN metric: Xu, Huang, Yuan, Guo, Sun, Wu, Weinberger 2018, "An
empirical study on evaluation metrics of generative adversarial networks", arXiv:1806.07755 (the "1-NN
classifier" metric).

Pool real x_i (i = 1..n, label 1) and fake y_j (j = 1..m, label 0) into z_1..z_{n+m}. Each z_a is classified by
the label of its nearest neighbour among the other n + m - 1 points (leave-one-out, Euclidean distance):
    nn(a) = argmin_{b != a} ||z_a - z_b||_2
    nn1_accuracy = 1/(n+m) sum_a 1[label(nn(a)) = label(a)]
    nn1_real = 1/n sum_{a real} 1[label(nn(a)) = 1],   nn1_fake = 1/m sum_{a fake} 1[label(nn(a)) = 0]
All three lie in [0, 1]. For n = m, 0.5 is ideal (the two sets are indistinguishable by their neighbours);
towards 1 the sets separate (poor samples or dropped modes; nn1_real near 1: real points with no generated
point nearby, i.e. missed modes; nn1_fake near 1: generated points away from the data). Far below 0.5 means
memorisation: a generated copy of every real point is each one's nearest neighbour with the other label, so
a copied set scores about 0 (Xu et al.'s overfitting check). So "lower is better" holds only down to 0.5.
Names and conventions follow Xu et al.'s code (https://github.com/xuqiantong/GAN-Metrics, framework/metric.py,
`knn` with k = 1: self excluded by an infinite diagonal, acc, acc_t for real, acc_f for generated). On exact
distance ties the lowest pooled index wins, i.e. a real neighbour before a generated one.

Memory: distances are computed in blocks of chunk_size rows against all n + m pooled points (pairwise.py),
O(chunk_size * (n + m)) float64 values: about 0.8 GB per block at chunk_size = 1024 for 50k real + 50k generated
points (beside the 100k x d float64 pooled features themselves: 1.6 GB at d = 2048), which fits one GPU; the
time is one (n + m) x (n + m) x d matmul in total.
"""

import torch

from ganctl.metrics.pairwise import DEFAULT_CHUNK, nearest_neighbour, prepare_pair


def nn1_accuracy(*, real, fake, chunk_size=DEFAULT_CHUNK) -> dict:
    """Leave-one-out 1-NN accuracy on real (n, d) and fake (m, d) pooled: {"nn1_accuracy", "nn1_real",
    "nn1_fake"} as floats (see the module docstring). Runs on real's device in float64."""
    real, fake = prepare_pair("nn1", real, fake, chunk_size=chunk_size)
    n = len(real)
    is_real = torch.arange(n + len(fake), device=real.device) < n  # (n + m,) pooled labels
    correct = is_real[nearest_neighbour(torch.cat([real, fake]), chunk_size)] == is_real
    return {
        "nn1_accuracy": float(correct.double().mean()),
        "nn1_real": float(correct[:n].double().mean()),
        "nn1_fake": float(correct[n:].double().mean()),
    }
