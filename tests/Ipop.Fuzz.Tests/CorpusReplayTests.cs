namespace Ipop.Fuzz.Tests;

/// <summary>
/// Every harness replays its whole corpus in-process, without AFL: the seeds and every crashing input found so far
/// (kept in fuzz/corpus as regression inputs) must pass the parser without a finding.
/// </summary>
public sealed class CorpusReplayTests
{
    public static TheoryData<string> Harnesses => RepositoryPaths.Harnesses();

    [Theory]
    [MemberData(nameof(Harnesses))]
    public void Corpus_replays_without_a_finding(string harness)
    {
        IHarness target = HarnessCatalog.TryCreate(harness)!;
        try
        {
            string[] files = Directory.GetFiles(RepositoryPaths.Corpus(harness));
            Assert.NotEmpty(files);
            foreach (string file in files.Order(StringComparer.Ordinal))
            {
                byte[] input = File.ReadAllBytes(file);
                Exception? finding = Record.Exception(() => target.Run(input));
                Assert.True(finding is null, $"{harness}: {Path.GetFileName(file)}: {finding}");
            }
        }
        finally
        {
            (target as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void Every_harness_has_a_corpus_and_every_corpus_a_harness()
    {
        string[] corpora = [.. Directory.GetDirectories(Path.Combine(RepositoryPaths.Root, "fuzz", "corpus")).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        Assert.Equal([.. HarnessCatalog.Names.Order(StringComparer.Ordinal)], corpora);
    }
}
