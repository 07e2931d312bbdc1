"""The teaching library: what the chapters build, one module per concept.

Every function and class here is shown, verbatim, in a code cell of the chapter that
builds it (``python -m course.library check`` proves it); later chapters import it.

    chapter 1  validation, logistic_regression, naive_bayes, relu_networks,
               tokenizers (CharTokenizer), bigram
    chapter 2  tokenizers (Vocabulary), recurrence, seq2seq, sequence_metrics
    chapter 3  autoencoders
    chapter 4  attention, transformer, attention_seq2seq, transformer_seq2seq
    chapter 5  tokenizers (ByteTokenizer), text_data, gpt, sampling, distributed, timing
    chapter 6  finetuning
    chapter 7  kv_cache, compression
    chapter 8  bpe

Keras runs on TensorFlow here: the backend is fixed before any module imports Keras.
"""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
