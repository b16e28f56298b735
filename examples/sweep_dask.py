"""A hyperparameter sweep on Dask.

GridSearchCV over fastnet's scikit-learn estimator, through joblib's dask backend.

    python examples/sweep_dask.py                       # a LocalCluster on this machine
    python examples/sweep_dask.py tcp://scheduler:8786  # a real cluster's scheduler
    python examples/sweep_dask.py --quick

Needs: pip install scikit-learn "dask[distributed]"
"""
import sys

import joblib
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from fastnet.sklearn import MLPClassifier


def main(address=None, quick=False):
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    grid = {"hidden_layer_sizes": [(32,), (64,), (64, 64)],
            "learning_rate_init": [0.001, 0.003, 0.01],
            "alpha": [1e-4, 1e-2]}
    if quick:
        X, y = X[:300], y[:300]
        grid = {"hidden_layer_sizes": [(16,), (32,)], "learning_rate_init": [0.01]}
    cluster = None
    if address is None:        # no scheduler given: start one here, with worker processes
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        address = cluster.scheduler_address
    with Client(address) as client:
        print(f"workers: {len(client.scheduler_info()['workers'])}")
        with joblib.parallel_backend("dask"):
            search = GridSearchCV(MLPClassifier(max_iter=10 if quick else 50, random_state=0),
                                  grid, cv=3, n_jobs=-1).fit(X, y)
    if cluster is not None:
        cluster.close()
    print(f"best {search.best_params_}: accuracy {search.best_score_:.3f} "
          f"({len(search.cv_results_['params'])} configurations)")
    return search


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--quick"]
    main(args[0] if args else None, quick="--quick" in sys.argv)
