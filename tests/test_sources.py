import numpy as np
import pytest

from memcap import DataError, load_dataset


def test_builtin_digits_and_iris():
    d = load_dataset("builtin:digits")
    assert (d.N, d.d_x, d.d_y, d.task) == (1797, 64, 10, "classification")
    with pytest.warns(UserWarning, match="duplicate"):
        i = load_dataset("builtin:iris")
    assert (i.N, i.d_x, i.d_y) == (149, 4, 3)


def test_builtin_mnist1d_offline():
    m = load_dataset("builtin:mnist1d", limit=200)
    assert m.N == 200 and m.d_x == 40 and m.task == "classification"


def test_generator_sources():
    g = load_dataset("gen:gaussian?n=30&d=5&seed=2&task=classification&classes=4")
    assert (g.N, g.d_x, g.d_y) == (30, 5, 4)
    with pytest.raises(DataError, match="unknown generator"):
        load_dataset("gen:nope")
    with pytest.raises(DataError, match="must be an integer"):
        load_dataset("gen:gaussian?n=abc")
    with pytest.raises(DataError, match="unknown generator parameter"):
        load_dataset("gen:gaussian?q=1")


def test_npz(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.arange(6.0).reshape(3, 2), y=np.array([0.5, -0.5, 0.25]))
    ds = load_dataset(str(p))
    assert ds.task == "regression" and ds.N == 3
    q = tmp_path / "bad.npz"
    np.savez(q, X=np.zeros((2, 2)))
    with pytest.raises(DataError, match="lacks"):
        load_dataset(str(q))
    r = tmp_path / "corrupt.npz"
    r.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(str(r))


def test_csv_with_header_and_label(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b,species\n1,2,cat\n3,4,dog\n5,6,cat\n")
    ds = load_dataset(str(p), label="species")
    assert ds.task == "classification" and ds.d_x == 2 and list(ds.classes) == ["cat", "dog"]
    with pytest.raises(DataError, match="must be numeric"):
        load_dataset(str(p), label=0)
    n = tmp_path / "n.csv"
    n.write_text("a,b,c\n1,2,7\n3,4,8\n5,6,9\n")
    ds0 = load_dataset(str(n), label=0, task="regression")
    assert ds0.y[:, 0].tolist() == [1.0, 3.0, 5.0] and ds0.X[:, 0].tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(str(p), label="color")


def test_csv_without_header_defaults_to_last_column(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("1,2,0.5\n3,4,0.25\n")
    ds = load_dataset(str(p))
    assert ds.task == "regression" and ds.y[:, 0].tolist() == [0.5, 0.25]


def test_csv_errors(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("1,2,3\n4,5\n")
    with pytest.raises(DataError, match="ragged"):
        load_dataset(str(p))
    with pytest.raises(DataError, match="no such file"):
        load_dataset(str(tmp_path / "missing.csv"))
    q = tmp_path / "d.parquet"
    q.write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        load_dataset(str(q))
    e = tmp_path / "empty.csv"
    e.write_text("")
    with pytest.raises(DataError, match="empty"):
        load_dataset(str(e))


def test_header_only_csv_is_a_clear_error(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("a,b,label\n")
    with pytest.raises(DataError, match="header row .* but no data rows"):
        load_dataset(str(p))


def test_semicolon_and_tab_csv_are_read(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("a;b;label\n1.5;2;0\n3;4;1\n5;6;0\n")
    ds = load_dataset(str(p))
    assert ds.d_x == 2 and ds.N == 3 and ds.X[0].tolist() == [1.5, 2.0] and ds.labels.tolist() == [0, 1, 0]
    t = tmp_path / "t.csv"
    t.write_text("1\t2\t0\n3\t4\t1\n")
    assert load_dataset(str(t)).X.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    eu = tmp_path / "eu.csv"
    eu.write_text("a;b;label\n1,5;2,5;0\n3,5;4,5;1\n")  # decimal commas: named, not misread
    with pytest.raises(DataError, match=r"must be numeric.*delimiter ';'.*'1,5'"):
        load_dataset(str(eu))
    one = tmp_path / "one.csv"
    one.write_text("1\n2\n3\n")
    with pytest.raises(DataError, match="single field"):
        load_dataset(str(one))


def test_headerless_csv_with_string_labels_keeps_its_first_row(tmp_path):
    p = tmp_path / "iris.csv"
    p.write_text("5.1,3.5,setosa\n7.0,3.2,versicolor\n6.3,3.3,virginica\n")
    ds = load_dataset(str(p))
    assert ds.N == 3 and ds.X[0].tolist() == [5.1, 3.5]
    assert ds.class_names == ["setosa", "versicolor", "virginica"] and ds.label_column == 2
    h = tmp_path / "h.csv"
    h.write_text("x1,x2,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n")
    hd = load_dataset(str(h))
    assert hd.N == 2 and hd.label_column == "species"


def test_class_names_label_column_and_source_rows(tmp_path):
    with pytest.warns(UserWarning, match="duplicate"):
        iris = load_dataset("builtin:iris")
    assert iris.class_names == ["setosa", "versicolor", "virginica"]
    # sklearn's iris repeats row 142 as row 101's duplicate: the kept points skip exactly one row
    assert len(iris.source_rows) == 149 and len(set(iris.source_rows)) == 149
    missing = sorted(set(range(150)) - set(iris.source_rows.tolist()))
    from sklearn.datasets import load_iris

    raw = load_iris().data
    assert len(missing) == 1 and any((raw[j] == raw[missing[0]]).all() for j in iris.source_rows)
    assert np.array_equal(iris.X, raw[iris.source_rows])
    p = tmp_path / "dup.csv"
    p.write_text("a,b,label\n0,0,x\n1,1,y\n0,0,x\n2,2,y\n")
    with pytest.warns(UserWarning):
        ds = load_dataset(str(p), label="label")
    assert ds.source_rows.tolist() == [0, 1, 3] and ds.row_names([2]) == [3]
    assert ds.stats()["merged_duplicates"] == 1 and ds.stats()["label_column"] == "label"
def test_builtin_breast_cancer():
    ds = load_dataset("builtin:breast_cancer")
    assert (ds.N, ds.d_x, ds.d_y, ds.task) == (569, 30, 2, "classification")
