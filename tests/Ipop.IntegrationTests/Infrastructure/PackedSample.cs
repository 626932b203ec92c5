using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>
/// A sample that references Ipop only as NuGet packages from the local feed (artifacts/packages), as an outside user
/// does: the feed is made here when scripts/test.sh has not packed it, and each build restores afresh from it (every
/// local pack carries the same version, so a restore kept from an earlier pack would build against old code).
/// </summary>
internal static class PackedSample
{
    /// <summary>The sample's project directory, ready for a fresh restore from a feed that holds every package.</summary>
    public static string Prepare(string sampleDirectory)
    {
        string root = Artifacts.RepositoryRoot;
        string feed = Path.Combine(root, "artifacts", "packages");
        if (!Directory.Exists(feed) || !Directory.EnumerateFiles(feed, "Ipop.Testing.*.nupkg").Any() || !Directory.EnumerateFiles(feed, "Ipop.Hosting.*.nupkg").Any())
        {
            Cmd.Run(TimeSpan.FromMinutes(10), "dotnet", "pack", Path.Combine(root, "Ipop.sln"), "-c", "Release", "-o", feed, "-v", "q");
        }

        string project = Path.Combine(root, sampleDirectory);
        string obj = Path.Combine(project, "obj");
        if (Directory.Exists(obj))
        {
            Directory.Delete(obj, recursive: true);
        }

        return project;
    }
}
