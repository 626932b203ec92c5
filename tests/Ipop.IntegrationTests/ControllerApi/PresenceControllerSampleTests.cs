using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.ControllerApi;

/// <summary>
/// The second sample controller, samples/PresenceController: a policy that follows a status the controllers exchange
/// themselves (links only while both friends are "available"), built from the packed packages like an outside user
/// and run; its self-test on Ipop.Testing (in-memory signaling, fake links) sees the links go when a node is away and
/// come back when it returns, and none left after stopping.
/// </summary>
public sealed class PresenceControllerSampleTests
{
    [Fact]
    public void The_presence_sample_builds_from_the_packages_and_links_only_available_friends()
    {
        string project = PackedSample.Prepare(Path.Combine("samples", "PresenceController"));
        CommandResult run = Cmd.TryRun(TimeSpan.FromMinutes(5), "dotnet", "run", "--project", project);
        Assert.True(run.ExitCode == 0, run.StandardOutput + run.StandardError);
        Assert.Contains("all three linked: yes", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("carol away: only alice-bob linked: yes", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("carol back: all three linked: yes", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("links left after stop: 0", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("presence controller: OK", run.StandardOutput, StringComparison.Ordinal);
    }
}
