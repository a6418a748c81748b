"""Language: sentiment RNNs on real reviews and their reverse engineering (DESIGN §7).

Data (:func:`load_movie_reviews`, :func:`load_texts`, :func:`split_corpus`; more classes:
:func:`load_bbc_news`, :func:`load_imdb_ratings`), tokens
(:func:`tokenize`, :class:`Vocabulary`, :func:`encode`), classifiers (:class:`TextClassifier`,
:func:`train_classifier`), baselines (:class:`BagOfWords`, :class:`AugmentedBagOfWords`,
:class:`ModifierBagOfWords`; :func:`ngram_teacher`, the soft targets of distillation), the
analyses (:func:`find_line_attractor`, :func:`word_valence`, :func:`modifier_effects`,
:func:`rank_modifiers`, :func:`modifier_ranking`, :func:`valence_agreement`,
:func:`document_states`, :func:`rnn_accuracy`, :func:`attractor_dimension`), the geometry of
C-class networks (:func:`class_geometry`, :func:`class_readout`, :func:`participation_ratio`,
:func:`word_displacement`) and a synthetic C-class task (:class:`EvidenceTask`).
"""

from ._bow import AugmentedBagOfWords as AugmentedBagOfWords
from ._bow import BagOfWords as BagOfWords
from ._bow import FittedAugmentedBagOfWords as FittedAugmentedBagOfWords
from ._bow import FittedBagOfWords as FittedBagOfWords
from ._bow import FittedModifierBagOfWords as FittedModifierBagOfWords
from ._bow import ModifierBagOfWords as ModifierBagOfWords
from ._bow import bag_of_words_matrix as bag_of_words_matrix
from ._bow import modified_counts_matrix as modified_counts_matrix
from ._bow import ngram_teacher as ngram_teacher
from ._classifier import ClassifierConfig as ClassifierConfig
from ._classifier import TextClassifier as TextClassifier
from ._classifier import classifier_accuracy as classifier_accuracy
from ._classifier import evidence_coordinate as evidence_coordinate
from ._classifier import predict_logits as predict_logits
from ._corpora import load_bbc_news as load_bbc_news
from ._corpora import load_imdb_ratings as load_imdb_ratings
from ._corpora import strip_ratings as strip_ratings
from ._data import Corpus as Corpus
from ._data import Split as Split
from ._data import load_movie_reviews as load_movie_reviews
from ._data import load_texts as load_texts
from ._data import split_corpus as split_corpus
from ._dynamics import LineAttractor as LineAttractor
from ._dynamics import attractor_dimension as attractor_dimension
from ._dynamics import document_states as document_states
from ._dynamics import find_line_attractor as find_line_attractor
from ._dynamics import linearization_error as linearization_error
from ._dynamics import rnn_accuracy as rnn_accuracy
from ._fit import TrainHistory as TrainHistory
from ._fit import train_classifier as train_classifier
from ._geometry import ClassGeometry as ClassGeometry
from ._geometry import class_geometry as class_geometry
from ._geometry import class_readout as class_readout
from ._geometry import participation_ratio as participation_ratio
from ._geometry import word_displacement as word_displacement
from ._synthetic import EvidenceTask as EvidenceTask
from ._text import Vocabulary as Vocabulary
from ._text import encode as encode
from ._text import tokenize as tokenize
from ._words import ModifierEffect as ModifierEffect
from ._words import ValenceAgreement as ValenceAgreement
from ._words import WordValence as WordValence
from ._words import modifier_effects as modifier_effects
from ._words import modifier_ranking as modifier_ranking
from ._words import rank_modifiers as rank_modifiers
from ._words import valence_agreement as valence_agreement
from ._words import word_valence as word_valence

__all__ = [
    "AugmentedBagOfWords",
    "BagOfWords",
    "ClassGeometry",
    "ClassifierConfig",
    "Corpus",
    "EvidenceTask",
    "FittedAugmentedBagOfWords",
    "FittedBagOfWords",
    "FittedModifierBagOfWords",
    "LineAttractor",
    "ModifierBagOfWords",
    "ModifierEffect",
    "Split",
    "TextClassifier",
    "TrainHistory",
    "ValenceAgreement",
    "Vocabulary",
    "WordValence",
    "attractor_dimension",
    "bag_of_words_matrix",
    "class_geometry",
    "class_readout",
    "classifier_accuracy",
    "document_states",
    "encode",
    "evidence_coordinate",
    "find_line_attractor",
    "linearization_error",
    "load_bbc_news",
    "load_imdb_ratings",
    "load_movie_reviews",
    "load_texts",
    "modifier_effects",
    "modified_counts_matrix",
    "ngram_teacher",
    "modifier_ranking",
    "participation_ratio",
    "predict_logits",
    "rank_modifiers",
    "rnn_accuracy",
    "split_corpus",
    "strip_ratings",
    "tokenize",
    "train_classifier",
    "valence_agreement",
    "word_displacement",
    "word_valence",
]
