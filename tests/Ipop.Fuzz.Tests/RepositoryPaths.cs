using System.Runtime.CompilerServices;

namespace Ipop.Fuzz.Tests;

/// <summary>Where the repository is: found from this file's path (tests keep real paths, see tests/Directory.Build.props).</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Corpus(string harness) => Path.Combine(Root, "fuzz", "corpus", harness);

    public static TheoryData<string> Harnesses() => [.. HarnessCatalog.Names];

    private static string FindRoot([CallerFilePath] string here = "")
    {
        string? directory = Path.GetDirectoryName(here);
        while (directory is not null && !File.Exists(Path.Combine(directory, "Ipop.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException($"No Ipop.sln above {here}.");
    }
}
