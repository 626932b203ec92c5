using Microsoft.Extensions.Options;

namespace Ipop.Tincan.Api.Tests;

/// <summary>
/// Issue 15's "small untruths" of this package: what it makes public. (The docs' "Hosting the server" snippet is
/// compiled against the packed packages by tests/Ipop.IntegrationTests/Sdk/DocSnippetTests, so a type it names that no
/// package ships fails the build there.)
/// </summary>
public sealed class PublicSurfaceTests
{
    [Fact]
    public void No_options_validator_is_public_as_in_every_other_package()
    {
        // AddTincanControllerApi registers the validator and the server runs it; a user never needs the type itself,
        // and a public one would be a promise to keep its messages and its place for all of 1.x.
        Type[] validators = [.. typeof(ControllerApiOptions).Assembly.GetExportedTypes()
            .Where(t => t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidateOptions<>)))];
        Assert.Empty(validators);
    }
}
