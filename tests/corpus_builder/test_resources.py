from nltk.corpus.reader.wordnet import WordNetCorpusReader

from corpus_builder.resources import LEXNAMES, _build_wordnet_from, debian_wordnet_dir, ensure_wordnet, lexnames_text


def test_lexnames_are_wordnets_45_files_numbered_00_to_44():
    lines = lexnames_text().splitlines()
    assert len(lines) == len(LEXNAMES) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[4] == "04\tnoun.act\t1"
    assert lines[29] == "29\tverb.body\t2" and lines[44] == "44\tadj.ppl\t3"


def test_debian_files_become_an_nltk_readable_wordnet(tmp_path, monkeypatch):
    import nltk

    target = tmp_path / "nltk_data" / "corpora" / "wordnet"
    _build_wordnet_from(debian_wordnet_dir(), target)
    monkeypatch.setattr(nltk.data, "path", [*nltk.data.path, str(tmp_path / "nltk_data")])
    reader = WordNetCorpusReader(str(target), None)
    assert reader.get_version() == "3.0"
    guitar = reader.synset("guitar.n.01")
    assert guitar.lexname() == "noun.artifact"
    assert reader.synset("eye.n.01").lemmas()[0].count() > 0  # SemCor counts from wordnet-sense-index
    assert sorted(p.name for p in tmp_path.joinpath("nltk_data", "corpora").iterdir()) == ["wordnet"]


def test_ensure_wordnet_is_on_nltks_path(wn):
    import nltk

    folder = ensure_wordnet()
    assert (folder / "lexnames").is_file()
    assert any(str(folder).startswith(p) for p in nltk.data.path)


def test_relations_come_in_one_order_whatever_the_hash_seed(wn):
    # NLTK keeps pointers in sets, so its relation lists follow the hash seed; ours are sorted by (pos, offset)
    brick = wn.synset("brick.n.01")
    for related in (brick.hypernyms(), brick.hyponyms(), wn.synset("car.n.01").part_meronyms()):
        keys = [(s.pos(), s.offset()) for s in related]
        assert len(keys) > 1 and keys == sorted(keys)
    assert [s.name() for s in brick.hypernyms()] == ["ceramic.n.01", "building_material.n.01"]


def test_semcor_counts_are_nltks_own(wn):
    # our reader reads cntlist.rev once into a dict; NLTK's stock reader searches the file per lemma
    stock = WordNetCorpusReader(str(ensure_wordnet()), None)
    names = ["eye.n.01", "dog.n.01", "run.v.01", "guitar.n.01", "skier.n.01", "good.a.01", "quickly.r.01"]
    ours = [(l.name(), l.count()) for n in names for l in wn.synset(n).lemmas()]
    assert ours == [(l.name(), l.count()) for n in names for l in stock.synset(n).lemmas()]
    assert dict(ours)["eye"] > 0 and dict(ours)["skier"] == 0  # seen and unseen lemmas both


def test_the_reader_builds_no_map_for_multilingual_data(wn):
    assert wn.map30 is None  # English only: NLTK's 4 s map to WordNet 3.0 for OMW is skipped
