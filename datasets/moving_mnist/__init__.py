"""moving_mnist dataset: the paper's Moving-MNIST, or new sequences from MNIST."""
