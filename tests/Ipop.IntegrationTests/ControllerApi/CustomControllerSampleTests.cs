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
        string project = PackedSample.Prepare(Path.Combine("samples", "CustomController"));
        CommandResult run = Cmd.TryRun(TimeSpan.FromMinutes(5), "dotnet", "run", "--project", project);
        Assert.True(run.ExitCode == 0, run.StandardOutput + run.StandardError);
        Assert.Contains("custom controller: OK", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("alice: bob@example.org", run.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("carol@example.org", run.StandardOutput.Split('\n').First(l => l.StartsWith("alice:", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("bob took carol off his list: link removed", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("links left after stop: 0", run.StandardOutput, StringComparison.Ordinal);
    }
}
