using Microsoft.Extensions.Options;

namespace Ipop.Controllers.SocialVpn;

/// <summary>Runs <see cref="SocialVpnOptions.Validate"/> for the options pipeline (ValidateOnStart).</summary>
internal sealed class SocialVpnOptionsValidator : IValidateOptions<SocialVpnOptions>
{
    public ValidateOptionsResult Validate(string? name, SocialVpnOptions options)
    {
        IReadOnlyList<string> errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
