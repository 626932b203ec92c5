using System.Text.RegularExpressions;

namespace Ipop.Simulator.Tests;

public sealed class SimulatorCliTests
{
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = SimulatorCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("--nodes", "many", "--nodes")]
    [InlineData("--nodes", "1", "--nodes must be between 2 and 100000")]
    [InlineData("--topology", "ring", "ring")]
    [InlineData("--churn", "-5", "--churn must be between 0 and 100 (percent per minute)")]
    public void A_bad_value_prints_one_error_line_and_exits_2(string option, string value, string expected)
    {
        (int code, string output, string error) = Run(option, value);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("ipop-simulator: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void The_last_line_is_machine_readable()
    {
        (int code, string output, string error) = Run("--nodes", "16", "--churn", "0", "--probes", "50");

        Assert.Equal(0, code);
        Assert.Equal("", error);
        string last = output.TrimEnd().Split('\n')[^1];
        Assert.Matches(new Regex(@"^nodes=16 topology=structured converged_s=\d+\.\d delivery=100\.00% churn_delivery=n/a% max_links=\d+ mean_links=\d+\.\d\d msgs_per_node_min=\d+\.\d wall_s=\d+\.\d$"), last);
    }
}
