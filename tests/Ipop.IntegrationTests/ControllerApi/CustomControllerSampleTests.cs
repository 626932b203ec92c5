using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.ControllerApi;

/// <summary>
/// The "write your own controller" path: samples/CustomController (an allow-list policy on the public
/// <c>LinkNegotiator</c>) references Ipop only as NuGet packages from the local feed (as an outside user would), is
/// built from scratch and run; its self-test links the allowed contacts over real Tincan nodes and never the others,
/// drops a link when a user is taken off the list, and leaves no link behind once stopped.
/// </summary>
public sealed class CustomControllerSampleTests
{
    [Fact]
    public void The_sample_controller_builds_from_the_packages_and_links_only_allowed_contacts()
    {
        string root = Artifacts.RepositoryRoot;
        string feed = Path.Combine(root, "artifacts", "packages");
        if (!Directory.Exists(feed) || !Directory.EnumerateFiles(feed, "Ipop.Testing.*.nupkg").Any())
        {
            // Outside scripts/test.sh (which packs first), make the feed here.
            Cmd.Run(TimeSpan.FromMinutes(5), "dotnet", "pack", Path.Combine(root, "Ipop.sln"), "-c", "Release", "-o", feed, "-v", "q");
        }

        string project = Path.Combine(root, "samples", "CustomController");
        string obj = Path.Combine(project, "obj");
        if (Directory.Exists(obj))
        {
            Directory.Delete(obj, recursive: true); // a fresh restore from the feed every time
        }

        CommandResult run = Cmd.TryRun(TimeSpan.FromMinutes(5), "dotnet", "run", "--project", project);
        Assert.True(run.ExitCode == 0, run.StandardOutput + run.StandardError);
        Assert.Contains("custom controller: OK", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("alice: bob@example.org", run.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("carol@example.org", run.StandardOutput.Split('\n').First(l => l.StartsWith("alice:", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("bob took carol off his list: link removed", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("links left after stop: 0", run.StandardOutput, StringComparison.Ordinal);
    }
}
