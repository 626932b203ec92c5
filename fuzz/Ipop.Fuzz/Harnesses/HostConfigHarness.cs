using Ipop.Samples.Hosting;
using Ipop.Tincan;
using Ipop.TincanHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// The host configuration file as <c>ipop-tincan run --config</c> reads it (the same steps as HostRunner, before the
/// host is built): StrictConfiguration's load and shape check (shared with the GroupVPN and SocialVPN sample hosts),
/// the binder, HostConfigValidator and the Tincan options validator. Rejection: a load error or a non-empty error
/// list (each becomes a one-line message and exit code 2).
/// </summary>
internal sealed class HostConfigHarness : IHarness
{
    private readonly FileInfo _file = new(Path.Combine(ScratchDirectory.Path, "ipop-tincan.json"));

    public string Name => "host-config";

    public string Description => "Host config file: StrictConfiguration, binder, validators (tools/Ipop.TincanHost, samples)";

    public void Run(ReadOnlySpan<byte> input)
    {
        ScratchDirectory.WritePrivate(_file.FullName, input);
        _file.Refresh();
        IConfigurationRoot? json = StrictConfiguration.TryLoad(_file, out _);
        if (json is null)
        {
            return;
        }

        var errors = new List<string>();
        StrictConfiguration.CheckRoot(json, HostConfigSchema.Value, errors);
        if (errors.Count > 0)
        {
            return;
        }

        HostConfig config = new();
        json.Bind(config);
        if (HostConfigValidator.Validate(config).Count > 0)
        {
            return;
        }

        var tincan = new TincanOptions();
        json.GetSection("Tincan").Bind(tincan);
        ValidateOptionsResult result = new TincanOptionsValidator().Validate(Options.DefaultName, tincan);
        _ = result.Failed;
    }
}
