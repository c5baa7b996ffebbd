console.log('prebuild done');
